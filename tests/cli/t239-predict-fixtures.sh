#!/bin/sh
# the model files of tests/fixtures/predict-v2 (forest and gbdt) score byte
# for byte as they did before the scoring path changed: unseen categories,
# missing cells, quoted CRLF input, many blocks, one or two threads, the
# Telco data (skipped visibly when it is absent)
. "$CHURN_TOP/tests/lib.sh"
fx=$CHURN_TOP/tests/fixtures/predict-v2

# want MODEL INPUT : the sha256 sha256.txt gives
want() { awk -v m="$1" -v i="$2" '$2 == m && $3 == i { print $1 }' "$fx/sha256.txt"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }

churn-gen --rows 20000 --seed 7 >gen20k.csv || fail "churn-gen failed"
[ "$(sum gen20k.csv)" = "$(want churn-gen gen20k)" ] ||
	fail "churn-gen --rows 20000 --seed 7 changed: the gen20k sums no longer apply"
for m in gen-forest gen-gbdt telco-forest telco-gbdt; do
	for in in score-u score-q; do
		for j in 1 2; do
			expect 0 churn-predict -m "$fx/$m.churn" --jobs $j "$fx/$in.csv"
			same "$fx/$m-scores.csv" out
			grep_err "39 values of categories unseen in training"
		done
	done
	expect 0 churn-predict -m "$fx/$m.churn" --json "$fx/score-u.csv"
	same "$fx/$m-scores.jsonl" out
	for j in 1 2; do
		expect 0 churn-predict -m "$fx/$m.churn" --jobs $j gen20k.csv
		[ "$(sum out)" = "$(want $m gen20k)" ] ||
			fail "$m: gen20k scores differ (--jobs $j)"
	done
	expect 0 churn-predict -m "$fx/$m.churn" - <gen20k.csv
	[ "$(sum out)" = "$(want $m gen20k)" ] || fail "$m: gen20k from stdin differs"
done
need_telco
for m in gen-forest gen-gbdt telco-forest telco-gbdt; do
	expect 0 churn-predict -q -m "$fx/$m.churn" "$CHURN_TELCO"
	[ "$(sum out)" = "$(want $m telco)" ] || fail "$m: Telco scores differ"
done
exit 0
