#!/bin/sh
# model files written by earlier builds (tests/fixtures/model-v1) still load
# and score byte for byte as they did: unseen categories, blank cells
. "$CHURN_TOP/tests/lib.sh"
fx=$CHURN_TOP/tests/fixtures/model-v1

for m in gen telco; do
	expect 0 churn-predict -m "$fx/$m.churn" "$fx/score-u.csv"
	same "$fx/$m-scores.csv" out
	grep_err "unseen in training"
	for j in 1 2; do
		expect 0 churn-predict -m "$fx/$m.churn" --jobs $j "$fx/score-u.csv"
		same "$fx/$m-scores.csv" out
	done
	expect 0 churn-predict -m "$fx/$m.churn" --describe
	grep -q '"trees"' out || fail "$m: --describe lacks trees"
	grep -q '"format": 1,' out || fail "$m: --describe does not say format 1"
	grep -q '"learner": "forest"' out || fail "$m: a format-1 file is not a forest"
done
expect 0 churn-predict -m "$fx/gen.churn" --json "$fx/score-u.csv"
same "$fx/gen-scores.jsonl" out
exit 0
