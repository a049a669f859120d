#!/bin/sh
# Sharded work without a scheduler: churn-predict over 4 shards (--no-header
# after the first, --row-offset) is byte for byte one run over the whole
# file, with and without an id column; churn-drift --profile-out per shard
# and --from-profiles give the single run's report but for "time"; a
# prediction sample whose start level overshoots is read again, so a file
# and the same bytes on stdin agree; mismatched profiles are refused.
. "$CHURN_TOP/tests/lib.sh"

gen --rows 8000 --seed 21 -o train.csv || fail "churn-gen failed"
churn-train --trees 20 -o m.churn train.csv >/dev/null 2>train.err ||
	{ cat train.err >&2; fail "churn-train failed"; }
cut -d, -f2- train.csv >train-noid.csv
churn-train --trees 20 -o noid.churn train-noid.csv >/dev/null 2>train.err ||
	{ cat train.err >&2; fail "churn-train (no id) failed"; }

gen --rows 30000 --seed 22 -o all.csv || fail "churn-gen failed"
cut -d, -f2- all.csv >all-noid.csv

# shards of uneven sizes, each with the header
shard() {   # shard FILE PREFIX: PREFIX0..3.csv
	head -1 "$1" >hdr
	awk -v p="$2" -v t=$(($(wc -l <"$1") - 1)) 'NR == 1 { next }
		{ n = NR - 1; b = int(t * 0.4)   # shard 2 is one row
		  i = n <= t / 6 ? 0 : n <= b ? 1 : n == b + 1 ? 2 : 3
		  print >(p i ".body") }' "$1"
	for i in 0 1 2 3; do cat hdr "$2$i.body" >"$2$i.csv"; rm "$2$i.body"; done
}
shard all.csv s
shard all-noid.csv n

# predict: the shards' outputs, concatenated, are the whole run's
predict_shards() {  # MODEL PREFIX OUT [flags]
	model=$1 prefix=$2 out=$3; shift 3
	off=0
	: >"$out"
	for i in 0 1 2 3; do
		nh=; [ $i = 0 ] || nh=--no-header
		churn-predict -m "$model" $nh --row-offset $off "$@" "$prefix$i.csv" >>"$out" ||
			fail "churn-predict of shard $i failed"
		off=$((off + $(awk 'END { print NR - 1 }' "$prefix$i.csv")))
	done
}
for args in "m.churn all.csv s" "noid.churn all-noid.csv n"; do
	# shellcheck disable=SC2086
	set -- $args
	churn-predict -m "$1" "$2" >one.out || fail "churn-predict $2 failed"
	predict_shards "$1" "$3" shards.out
	same one.out shards.out
	churn-predict -m "$1" --json "$2" >one.json || fail "churn-predict --json $2 failed"
	predict_shards "$1" "$3" shards.json --json
	same one.json shards.json
done
head -1 one.out | grep -q '^row,' || fail "no row ids in $(head -1 one.out)"
sed -n 30000,30001p one.out | grep -q '^29999,' || fail "the ids do not run on"

# --row-offset moves JSON-lines line numbers too
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) k[i] = $i; next } NR <= 3 {
	s = "{"
	for (i = 1; i <= NF; i++) {
		v = "\"" $i "\""
		if ($i == "") v = "null"
		else if ($i ~ /^-?[0-9.]+$/) v = $i
		s = s (i > 1 ? "," : "") "\"" k[i] "\":" v
	}
	print s "}" }' all-noid.csv >two.jsonl
churn-predict -m noid.churn --json-in --json --row-offset 10 two.jsonl >two.out 2>/dev/null ||
	fail "churn-predict --json-in failed"
grep -q '"row": *"11"' two.out || grep -q '"row": *11' two.out || fail "offset line ids: $(cat two.out)"
expect 2 churn-predict -m m.churn --row-offset -1 all.csv
expect 2 churn-predict -m m.churn --row-offset 1.5 all.csv

# drift: the profiles' report is the single run's but for "time"
untime() { sed 's/"time":"[^"]*"/"time":""/' "$1"; }
drift_case() {  # STATUS [flags]
	status=$1; shift
	expect "$status" churn-drift -m m.churn "$@" all.csv
	untime out >one.report
	i=0
	for j in 1 2 1 2; do   # threads differ between shards: no matter
		churn-drift -m m.churn --jobs $j "$@" --profile-out p$i.json s$i.csv ||
			fail "profile of shard $i failed"
		i=$((i + 1))
	done
	expect "$status" churn-drift -m m.churn "$@" --from-profiles p0.json p1.json p2.json p3.json
	untime out >merged.report
	same one.report merged.report
}
drift_case 0 --predict-sample 3000
drift_case 0 --predict-sample 0
drift_case 0 --no-prediction
grep -q '"prediction"' merged.report && fail "--no-prediction report has a prediction"
drift_case 0 --predict-sample 200 --bins 5
grep -q 'a sample of' merged.report || fail "the small sample is not a sample"

# a shifted population drifts in the merge as in one run
gen --rows 6000 --seed 23 --shift -o all.csv || fail "churn-gen --shift failed"
shard all.csv s
drift_case 1 --predict-sample 1000

# the report options go to the merge; summary included
churn-drift -m m.churn --summary --psi-threshold 0.05 --predict-sample 1000 all.csv >/dev/null 2>one.summary
churn-drift -m m.churn --summary --psi-threshold 0.05 --from-profiles p0.json p1.json \
	p2.json p3.json >/dev/null 2>merged.summary
same one.summary merged.summary

# a file whose first 64 KiB are short lines: the start level of the sample
# overshoots and the file is read again; a pipe (no estimate) agrees
gen --rows 20000 --seed 24 -o long.csv || fail "churn-gen failed"
awk -F, -v OFS=, 'NR > 1 && NR <= 4001 { for (i = 2; i <= NF; i++) $i = "" } { print }' \
	long.csv >skew.csv
churn-drift -m m.churn --predict-sample 500 skew.csv >out 2>err
[ $? -le 1 ] || { cat err >&2; fail "churn-drift skew.csv failed"; }
untime out >file.report
cat skew.csv | churn-drift -m m.churn --predict-sample 500 - >out 2>err
untime out >stdin.report
same file.report stdin.report

# refusals
gen --rows 3000 --seed 25 -o other.csv || fail "churn-gen failed"
churn-train --trees 5 --seed 9 -o other.churn other.csv >/dev/null 2>&1 || fail "churn-train failed"
churn-drift -m other.churn --profile-out other.json s0.csv || fail "profile of other model failed"
expect 2 churn-drift -m m.churn --from-profiles p0.json other.json
grep_err "other.json: a profile of model"
churn-drift -m m.churn --predict-sample 77 --profile-out odd.json s1.csv || fail "profile failed"
expect 2 churn-drift -m m.churn --from-profiles p0.json odd.json
grep_err "same --predict-sample"
churn-drift -m m.churn --no-prediction --profile-out nop.json s1.csv || fail "profile failed"
expect 2 churn-drift -m m.churn --from-profiles p0.json nop.json
grep_err "same --no-prediction"
expect 2 churn-drift -m m.churn --from-profiles train.csv
expect 2 churn-drift -m m.churn --from-profiles
expect 2 churn-drift -m m.churn --summary --profile-out x.json s0.csv
grep_err "--profile-out writes one shard's counts"
[ -e x.json ] && fail "a refused --profile-out wrote x.json"
# scripts/slurm run as plain scripts, a task at a time (t261 runs them on
# Slurm): the same results; without arguments or a task id they refuse
S=$CHURN_TOP/scripts/slurm
gen --rows 5000 --seed 26 -o all-id.csv || fail "churn-gen failed"
cut -d, -f2- all-id.csv >all.csv
shard all.csv s
: >shards.txt
for i in 0 1 2 3; do echo "$PWD/s$i.csv" >>shards.txt; done
for i in 0 1 2 3; do
	SLURM_ARRAY_TASK_ID=$i sh "$S/score.sbatch" noid.churn shards.txt res ||
		fail "score.sbatch task $i failed"
	SLURM_ARRAY_TASK_ID=$i sh "$S/drift-profile.sbatch" m.churn shards.txt res \
		--predict-sample 700 || fail "drift-profile.sbatch task $i failed"
done
sh "$S/score-merge.sbatch" shards.txt res || fail "score-merge.sbatch failed"
churn-predict -m noid.churn all.csv >one.out || fail "churn-predict failed"
same one.out res/scores.csv
sh "$S/drift-merge.sbatch" m.churn shards.txt res
[ $? -le 1 ] || fail "drift-merge.sbatch failed"
churn-drift -m m.churn --predict-sample 700 all.csv >one.json
untime one.json >a
untime res/drift.json >b
same a b
rm res/score.000002.part
expect 2 sh "$S/score-merge.sbatch" shards.txt res
grep_err "score.000002.part is missing"
for s in "$S"/*.sbatch; do
	expect 2 sh "$s"
	grep_err "usage: sbatch"
done
expect 2 sh "$S/score.sbatch" noid.churn shards.txt res
grep_err "not an array task"
if command -v shellcheck >/dev/null 2>&1; then
	shellcheck "$S"/*.sbatch >sc.out 2>&1 || { cat sc.out >&2; fail "shellcheck complains about scripts/slurm"; }
else
	echo "note: no shellcheck, scripts/slurm not linted"
fi
echo "ok: 4 shards scored and profiled, merged outputs identical"
