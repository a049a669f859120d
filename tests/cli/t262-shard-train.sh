#!/bin/sh
# Training on shards: churn-train --summary-out per shard, --bins-from the
# summaries per shard, --merge of the forests.  Where every column is
# counted exactly the merged binning and reference profiles are a single
# run's, byte for byte; on 4 shards of 100,000 generated rows the merged
# forest's ROC-AUC on held-out rows is within 0.005 of one forest trained
# on the 400,000 rows (both printed); the merged model scores in
# churn-predict and churn-serve alike; what cannot merge is refused.  The
# sanitizer run (CHURN_SAN) looks for memory errors, not AUC: its shards
# are of 25,000 rows.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

# timed LABEL CMD...: CMD, its time and peak memory printed (when
# /usr/bin/time is there: GNU time, in Debian's "time" package)
timed() {
	l=$1; shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f "$l: %e s, %M KB" "$@"
	else
		"$@"
	fi
}

# shards of a generated file: PREFIX0..3.csv of N rows each, with the header
shard() {   # shard FILE N PREFIX
	head -1 "$1" >hdr
	awk -v n="$2" -v p="$3" 'NR > 1 { print >(p int((NR - 2) / n) ".body") }' "$1"
	for i in 0 1 2 3; do cat hdr "$3$i.body" >"$3$i.csv"; rm "$3$i.body"; done
}
# the model file's schema (edges, categories, reference profiles), as JSON
schema() {
	python3 -c 'import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<I", b[56:60])[0]
print(json.dumps(json.loads(b[60:60 + n])["schema"], sort_keys=True, indent=1))' "$1"
}
# parts PREFIX SUMMARIES MODEL-PREFIX [flags]: one forest a shard
parts() {
	p=$1 s=$2 m=$3; shift 3
	for i in 0 1 2 3; do
		timed "  shard $i" churn-train -q --bins-from "$s" \
		    --holdout 0 --seed $((i + 1)) "$@" -o "$m$i.churn" "$p$i.csv" >"$m$i.json" ||
			fail "churn-train --bins-from of shard $i failed"
	done
}

# 1. every column exact (1000 rows a shard): the merged binning is the
#    single run's, and so are the reference profiles the parts add up
gen --rows 4000 --seed 31 -o small.csv || fail "churn-gen failed"
shard small.csv 1000 e
for i in 0 1 2 3; do
	churn-train --summary-out e$i.sum e$i.csv || fail "churn-train --summary-out failed"
done
jq -e '[.columns[] | select(.sketch)] | length == 0' e0.sum >/dev/null ||
	fail "a column of 1000 rows was sketched"
churn-train -q --learner forest --trees 10 --holdout 0 -o one.churn small.csv >one.json ||
	fail "churn-train of the whole file failed"
parts e e0.sum,e1.sum,e2.sum,e3.sum ep --trees 10
churn-train --merge -o emerged.churn ep0.churn ep1.churn ep2.churn ep3.churn >emerged.json ||
	fail "churn-train --merge failed"
schema one.churn >one.schema
schema emerged.churn >merged.schema
same one.schema merged.schema
jq -e '.params.trees == 40 and (.chosen.merge.parts | length) == 4 and
	.chosen.calibration.method == "none" and .rows.total == 4000' emerged.json >/dev/null ||
	fail "merge summary: $(jq -c '{params, rows}' emerged.json)"

# 2. 4 shards of 100,000 rows against one run on the 400,000
n=100000
[ -n "${CHURN_SAN:-}" ] && n=25000
gen --rows $((4 * n)) --seed 7 -o all.csv || fail "churn-gen failed"
gen --rows 50000 --seed 8 -o hold.csv || fail "churn-gen failed"
shard all.csv $n s
echo "summaries:"
for i in 0 1 2 3; do
	timed "  shard $i" churn-train --summary-out s$i.sum s$i.csv ||
		fail "churn-train --summary-out of shard $i failed"
done
jq -e '[.columns[] | select(.sketch)] | length > 0' s0.sum >/dev/null ||
	fail "no column of $n rows was sketched (the test means to cover the sketch)"
echo "forests:"
parts s s0.sum,s1.sum,s2.sum,s3.sum p
churn-predict -m p0.churn --describe | jq -e '.binning.approximate[0].rank_error < 1 / 4096' >/dev/null ||
	fail "the approximate columns' bound is not said"
timed merge churn-train --merge --valid hold.csv -o merged.churn \
    p0.churn p1.churn p2.churn p3.churn >merged.json || fail "churn-train --merge failed"
timed "single machine" churn-train -q --learner forest --valid hold.csv \
    -o single.churn all.csv >single.json || fail "churn-train of $((4 * n)) rows failed"
m=$(jq .metrics.roc_auc merged.json) s=$(jq .metrics.roc_auc single.json)
echo "holdout ROC-AUC on 4 shards of $n rows: merged $m, single machine $s"
awk -v m="$m" -v s="$s" 'BEGIN { d = m - s; if (d < 0) d = -d; exit !(d <= 0.005) }' ||
	fail "merged AUC $m is not within 0.005 of $s"

# the merged model scores in churn-predict and in churn-serve alike
head -201 hold.csv >new.csv
churn-predict -m merged.churn new.csv >want.csv || fail "churn-predict of the merged model failed"
[ "$(wc -l <want.csv)" -eq 201 ] || fail "churn-predict gave $(wc -l <want.csv) lines"
start_serve --model merged.churn
req POST /predict -H 'Content-Type: text/csv' --data-binary @new.csv
[ "$status" = 200 ] || fail "POST /predict: $status $(cat body)"
same want.csv body
stop_serve

# what does not merge is refused
churn-train -q --learner gbdt -o gbdt.churn e0.csv >/dev/null || fail "churn-train --learner gbdt failed"
expect 2 churn-train --merge -o x.churn ep0.churn gbdt.churn
grep_err "boosted trees do not merge"
expect 2 churn-train --merge -o x.churn ep0.churn p1.churn
grep_err "binned otherwise"
expect 2 churn-train --bins-from e0.sum --learner gbdt e0.csv
grep_err "boosted trees do not merge"
expect 2 churn-train --bins-from e0.sum,one.json -o x.churn e0.csv
grep_err "not a summary"
expect 2 churn-train --merge
expect 2 churn-train --summary-out x.sum --merge ep0.churn
[ ! -e x.churn ] || fail "a refused merge wrote x.churn"
exit 0
