#!/bin/sh
# scripts/slurm on a real single-host Slurm cluster (munge, slurmctld,
# slurmd, started and stopped here): the scoring array job over 4 shards
# and its merge give churn-predict's single-run output byte for byte; the
# drift profile array job and its merge give the single run's report but
# for "time"; the training jobs (summaries, forests, merge) make a model
# that scores.  Skipped, saying why, only where Slurm cannot start.
. "$CHURN_TOP/tests/lib.sh"

for p in munged slurmctld slurmd sbatch sinfo; do
	command -v $p >/dev/null 2>&1 ||
		skip "no $p: Slurm is not installed (scripts/install-deps installs slurm-wlm and munge)"
done
[ "$(id -u)" -eq 0 ] || skip "Slurm's daemons start as root here (SlurmUser=root); not root"
id munge >/dev/null 2>&1 || skip "no munge user"
t0=$(date +%s)

# the cluster lives in D (755: munge must get through it)
D=$(mktemp -d /tmp/churn-slurm.XXXXXX) || fail "mktemp"
chmod 755 "$D"
started=
stop() {
	# jobs still running (a hang bound ran out) go first: their steps
	# would outlive slurmd
	[ -f "$D/slurm.conf" ] && SLURM_CONF=$D/slurm.conf timeout 10 scancel -u root 2>/dev/null
	for f in slurmd slurmctld munge/munged; do
		# a daemon started a moment ago may not have written its pid yet
		n=0
		case " $started " in *" $f "*)
			while ! [ -s "$D/$f.pid" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
		esac
		pid=$(cat "$D/$f.pid" 2>/dev/null) || continue
		kill "$pid" 2>/dev/null
	done
	for f in slurmd slurmctld munge/munged; do
		pid=$(cat "$D/$f.pid" 2>/dev/null) || continue
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
		kill -9 "$pid" 2>/dev/null
	done
	rm -rf "$D"
}
trap stop EXIT
trap 'exit 1' INT TERM HUP PIPE

# a TCP port no socket uses, below the ephemeral range (32768 up) where
# other programs' connections come and go
port() {
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 12000 + 20000 ))
		[ "$p" != "${1:-}" ] || continue
		ss -Htan "sport = :$p" 2>/dev/null | grep -q . || { echo $p; return; }
	done
}
alive() { kill -0 "$(cat "$D/$1.pid" 2>/dev/null)" 2>/dev/null; }

# munge
install -d -o munge -g munge -m 700 "$D/munge"
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
chown munge:munge "$D/munge/munge.key" && chmod 400 "$D/munge/munge.key"
started=munge/munged
runuser -u munge -- munged --key-file="$D/munge/munge.key" \
	--socket="$D/munge/munge.socket" --pid-file="$D/munge/munged.pid" \
	--log-file="$D/munge/munged.log" --seed-file="$D/munge/seed" --force ||
	skip "munged cannot start here: $(tail -3 "$D/munge/munged.log" 2>/dev/null)"

host=$(hostname -s)
mkdir -p "$D/state" "$D/spool"
SLURM_CONF=$D/slurm.conf
export SLURM_CONF
conf() {
	ctld=$(port) slurmd=$(port "$ctld")
	cat >"$SLURM_CONF" <<EOF
ClusterName=churn
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld
SlurmdPort=$slurmd
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc)
PartitionName=batch Nodes=$host Default=YES State=UP
EOF
}
# until CMD succeeds (each try bounded to 15 s) while DAEMON lives, for at
# most 120 s (a loaded machine: slurmd's registration retries back off):
# 0 when it did, 1 when DAEMON died, 2 after 120 s
until_up() {
	end=$(($(date +%s) + 120))
	while [ "$(date +%s)" -lt $end ]; do
		alive "$1" || return 1
		timeout 15 sh -c "$2" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 2
}
# DAEMON's pid file, written once it runs (its parent returns before):
# 0 when there, 1 when its log says it died first, 2 after 60 s
pidfile() {
	end=$(($(date +%s) + 60))
	until [ -s "$D/$1.pid" ]; do
		grep -q "fatal" "$D/$1.log" 2>/dev/null && return 1
		[ "$(date +%s)" -lt $end ] || return 2
		sleep 0.1
	done
}
# a port taken between the choice and the bind: choose again, 3 times
try=1
while :; do
	conf
	rm -f "$D/slurmctld.log" "$D/slurmd.log" "$D/slurmctld.pid" "$D/slurmd.pid"
	started="$started slurmctld"
	slurmctld -f "$SLURM_CONF" 2>"$D/slurmctld.err" ||
		skip "slurmctld cannot start here: $(cat "$D/slurmctld.err"; tail -3 "$D/slurmctld.log" 2>/dev/null)"
	rc=0
	pidfile slurmctld || rc=$?
	[ $rc != 0 ] || until_up slurmctld "scontrol ping | grep -q UP" || rc=$?
	if [ $rc = 1 ] && [ $try -lt 3 ] && grep -q "Address already in use" "$D/slurmctld.log"; then
		try=$((try + 1))
		continue
	fi
	[ $rc = 0 ] || skip "slurmctld does not answer here ($rc): $(tail -3 "$D/slurmctld.log" 2>/dev/null)"
	started="$started slurmd"
	slurmd -f "$SLURM_CONF" 2>"$D/slurmd.err" ||
		skip "slurmd cannot start here: $(cat "$D/slurmd.err"; tail -3 "$D/slurmd.log" 2>/dev/null)"
	rc=0
	pidfile slurmd || rc=$?
	[ $rc != 0 ] || until_up slurmd "sinfo -h -o %T | grep -qx idle" || rc=$?
	if [ $rc = 1 ] && [ $try -lt 3 ] && grep -q "Address already in use" "$D/slurmd.log"; then
		kill "$(cat "$D/slurmctld.pid")"
		until_up slurmctld false || :
		try=$((try + 1))
		continue
	fi
	[ $rc = 0 ] || skip "the Slurm node is not idle ($rc): $(timeout 5 sinfo -h 2>&1; tail -3 "$D/slurmd.log")"
	break
done
t1=$(date +%s)
echo "slurm cluster up in $((t1 - t0)) s"

# the data: a model without an id column (row numbers as ids run on
# across shards) and 4 shards of uneven sizes, each with the header
gen --rows 6000 --seed 31 -o train.csv || fail "churn-gen failed"
cut -d, -f2- train.csv >train-noid.csv
churn-train --trees 20 -o m.churn train-noid.csv >/dev/null 2>train.err ||
	{ cat train.err >&2; fail "churn-train failed"; }
gen --rows 20000 --seed 32 -o all-id.csv || fail "churn-gen failed"
cut -d, -f2- all-id.csv >all.csv
head -1 all.csv >hdr
awk 'NR == 1 { next } { n = NR - 1; i = n <= 3000 ? 0 : n <= 11000 ? 1 : n <= 11500 ? 2 : 3
	print >("body" i) }' all.csv
: >shards.txt
for i in 0 1 2 3; do
	cat hdr body$i >"$PWD/shard$i.csv"
	echo "$PWD/shard$i.csv" >>shards.txt
done

S=$CHURN_TOP/scripts/slurm
# job ids from --parsable, the merges after them by dependency; --wait
# bounds every wait (timeout as the hang bound)
jid=$(timeout 60 sbatch --parsable --array=0-3 --chdir="$PWD" --output="$PWD/score.%a.log" \
	"$S/score.sbatch" "$PWD/m.churn" "$PWD/shards.txt" "$PWD/out") ||
	fail "sbatch score.sbatch failed"
timeout 300 sbatch --wait --dependency=afterok:"$jid" --chdir="$PWD" \
	--output="$PWD/score-merge.log" "$S/score-merge.sbatch" "$PWD/shards.txt" "$PWD/out" ||
	{ cat score.*.log score-merge.log "$D/slurmctld.log" >&2; fail "the scoring jobs failed"; }
t2=$(date +%s)
churn-predict -m m.churn all.csv >single.csv || fail "churn-predict failed"
same single.csv out/scores.csv
sed -n 20001p out/scores.csv | grep -q '^20000,' || fail "the row ids do not run on across shards"
echo "scoring array job + merge: $((t2 - t1)) s, $(wc -l <out/scores.csv) lines identical"

jid=$(timeout 60 sbatch --parsable --array=0-3 --chdir="$PWD" --output="$PWD/profile.%a.log" \
	"$S/drift-profile.sbatch" "$PWD/m.churn" "$PWD/shards.txt" "$PWD/out" --predict-sample 2000) ||
	fail "sbatch drift-profile.sbatch failed"
timeout 300 sbatch --wait --dependency=afterok:"$jid" --chdir="$PWD" \
	--output="$PWD/drift-merge.log" "$S/drift-merge.sbatch" "$PWD/m.churn" \
	"$PWD/shards.txt" "$PWD/out" --summary ||
	{ cat profile.*.log drift-merge.log >&2; fail "the drift jobs failed"; }
t3=$(date +%s)
churn-drift -m m.churn --predict-sample 2000 all.csv >single.json || fail "churn-drift failed"
sed 's/"time":"[^"]*"//' single.json >a
sed 's/"time":"[^"]*"//' out/drift.json >b
same a b
grep -q 'a sample of' b || fail "the prediction was not sampled: $(cat b)"
grep -q '^no drift: ' drift-merge.log || { cat drift-merge.log >&2; fail "no --summary in the merge job's log"; }
echo "drift profile array job + merge: $((t3 - t2)) s, reports identical but for time"

# training: the summaries' array job, the forests' array job after it, the
# merge after that; the shards' summaries give the binning one run infers
# (every column counted exactly at this size), and the model scores
cut -d, -f2- train.csv >hold.csv
j1=$(timeout 60 sbatch --parsable --array=0-3 --chdir="$PWD" --output="$PWD/summary.%a.log" \
	"$S/train-summary.sbatch" "$PWD/shards.txt" "$PWD/out") ||
	fail "sbatch train-summary.sbatch failed"
j2=$(timeout 60 sbatch --parsable --array=0-3 --dependency=afterok:"$j1" --chdir="$PWD" \
	--output="$PWD/part.%a.log" "$S/train-part.sbatch" "$PWD/shards.txt" "$PWD/out" --trees 10) ||
	fail "sbatch train-part.sbatch failed"
timeout 300 sbatch --wait --dependency=afterok:"$j2" --chdir="$PWD" \
	--output="$PWD/train-merge.log" "$S/train-merge.sbatch" "$PWD/shards.txt" "$PWD/out" \
	--valid "$PWD/hold.csv" ||
	{ cat summary.*.log part.*.log train-merge.log >&2; fail "the training jobs failed"; }
t4=$(date +%s)
jq -e '.params.trees > 0 and .metrics.roc_auc > 0.7' out/train.json >/dev/null ||
	fail "merged model: $(jq -c '{params, metrics}' out/train.json)"
churn-predict -m out/model.churn all.csv >/dev/null || fail "the merged model does not score"
echo "training array jobs + merge: $((t4 - t3)) s, holdout ROC-AUC $(jq .metrics.roc_auc out/train.json)"
echo "t261 total $(( $(date +%s) - t0 )) s"
