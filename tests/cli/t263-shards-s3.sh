#!/bin/sh
# Shards as an s3:// prefix: churn-models shards lists the objects in key
# order; the Slurm array scripts (run here as their tasks, without Slurm)
# given the prefix write byte for byte what they write given the files:
# scores, drift profiles and report (but for "time"), training summaries
# (but for the source's name) and the forests' binning; churn-drift
# --from-profiles and churn-train --bins-from take a prefix of profiles or
# summaries too.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

[ -n "${CHURN_TEST_S3_ENDPOINT:-}" ] ||
    skip "no S3 test server: CHURN_TEST_S3_ENDPOINT unset (tests/run starts it; by hand: scripts/services up DIR && . DIR/env)"
unset CHURN_DATABASE_URL CHURN_STORE
CHURN_S3_ENDPOINT=$CHURN_TEST_S3_ENDPOINT
test_db=t263_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
export CHURN_S3_ENDPOINT
prefix=s3://$CHURN_TEST_S3_BUCKET/$test_db
S=$CHURN_TOP/scripts/slurm

gen --rows 5000 --seed 41 -o train.csv || fail "churn-gen failed"
churn-train -q --trees 10 -o m.churn train.csv >/dev/null || fail "churn-train failed"
gen --rows 12000 --seed 42 -o all.csv || fail "churn-gen failed"
head -1 all.csv >hdr
awk 'NR > 1 { n = NR - 1; print >("body" (n <= 2000 ? 0 : n <= 7000 ? 1 : n <= 7001 ? 2 : 3)) }' all.csv
: >shards.txt
for i in 0 1 2 3; do
	cat hdr body$i >"$PWD/part-$i.csv"
	echo "$PWD/part-$i.csv" >>shards.txt
	s3 PUT "$(s3_url shards/part-$i.csv)" part-$i.csv >/dev/null || fail "cannot PUT shard $i"
done

expect 0 churn-models shards "$prefix/shards/"
for i in 0 1 2 3; do echo "$prefix/shards/part-$i.csv"; done >want.list
same want.list out
expect 2 churn-models shards "$prefix/none/"
grep_err "no objects"
expect 2 churn-models shards "$prefix/shards/part-0.csv"
grep_err "not an s3://bucket/dir/ prefix"

# run SCRIPT SHARDS [args]: the array job's 4 tasks, as Slurm would run them
run() {
	script=$1; shift
	for i in 0 1 2 3; do
		SLURM_ARRAY_TASK_ID=$i CHURN_BIN=$CHURN_BIN sh "$S/$script" "$@" >>run.log 2>&1 ||
			{ cat run.log >&2; fail "$script task $i failed"; }
	done
}
untime() { sed 's/"time":"[^"]*"//' "$1"; }

# scoring: the same bytes from the bucket as from the files, one run's
churn-predict -m m.churn all.csv >single.csv || fail "churn-predict failed"
for src in files bucket; do
	list=$PWD/shards.txt
	[ $src = bucket ] && list=$prefix/shards/
	run score.sbatch "$PWD/m.churn" "$list" "$PWD/$src"
	sh "$S/score-merge.sbatch" "$list" "$PWD/$src" || fail "score-merge.sbatch ($src) failed"
	same single.csv "$src/scores.csv"
done

# drift: the same report from profiles of the bucket's shards
for src in files bucket; do
	list=$PWD/shards.txt
	[ $src = bucket ] && list=$prefix/shards/
	run drift-profile.sbatch "$PWD/m.churn" "$list" "$PWD/$src" --predict-sample 3000
	rc=0
	sh "$S/drift-merge.sbatch" "$PWD/m.churn" "$list" "$PWD/$src" || rc=$?
	[ $rc -le 1 ] || fail "drift-merge.sbatch ($src) failed"
	untime "$src/drift.json" >"$src.report"
done
same files.report bucket.report
for i in 0 1 2 3; do
	cmp -s "files/profile.00000$i.json" "bucket/profile.00000$i.json" ||
		fail "profile $i differs between the files and the bucket"
	s3 PUT "$(s3_url profiles/p$i.json)" "bucket/profile.00000$i.json" >/dev/null ||
		fail "cannot PUT profile $i"
done
rc=0
churn-drift -m m.churn --from-profiles "$prefix/profiles/" >prefix.json || rc=$?
[ $rc -le 1 ] || fail "churn-drift --from-profiles $prefix/profiles/ failed"
untime prefix.json >prefix.report
same files.report prefix.report

# training: summaries of the bucket's shards are the files' (but for the
# source's name); forests on summaries in the bucket are binned alike
for src in files bucket; do
	list=$PWD/shards.txt
	[ $src = bucket ] && list=$prefix/shards/
	run train-summary.sbatch "$list" "$PWD/$src"
	for i in 0 1 2 3; do
		jq -c 'del(.source)' "$src/summary.00000$i.json" >"$src.sum$i"
	done
done
for i in 0 1 2 3; do
	same files.sum$i bucket.sum$i
	s3 PUT "$(s3_url summaries/s$i.json)" "bucket/summary.00000$i.json" >/dev/null ||
		fail "cannot PUT summary $i"
done
run train-part.sbatch "$PWD/shards.txt" "$PWD/files" --trees 5
sh "$S/train-merge.sbatch" "$PWD/shards.txt" "$PWD/files" --valid "$PWD/train.csv" ||
	fail "train-merge.sbatch failed"
# 5 trees a shard of 2000, 5000, 1 and 4999 rows: votes in proportion
# to the rows keep 2, 5, 0 and 5 of them
jq -e '.params.trees == 12 and ([.chosen.merge.parts[].trees_kept] == [2, 5, 0, 5]) and
	.metrics.roc_auc > 0.7' files/train.json >/dev/null ||
	fail "merged model: $(jq -c '{params, metrics}' files/train.json)"
churn-predict -m files/model.churn part-0.csv >/dev/null || fail "the merged model does not score"
churn-train -q --bins-from "$prefix/summaries/" --holdout 0 --trees 5 -o s3part.churn part-1.csv >/dev/null ||
	fail "churn-train --bins-from $prefix/summaries/ failed"
churn-train --merge -o both.churn files/part.000000.churn s3part.churn >/dev/null ||
	fail "forests on the bucket's and the files' summaries do not merge"
exit 0
