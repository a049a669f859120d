#!/bin/sh
# Two churn-serve replicas on PostgreSQL with a refresh interval of an
# hour: churn-models rollout set / off announce the change with NOTIFY in
# their transaction, so both replicas switch (GET /rollout) without waiting
# for the poll.  Delays are printed, and asserted only as a 10 s hang bound.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"
command -v psql >/dev/null || skip "psql is not installed"
use_services
# since T0: seconds from T0 (date +%s.%N) to now
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

pids=
cleanup() {
	st=$?
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do
		wait "$p" 2>/dev/null || { st=1; echo "FAIL: a replica exited non-zero on SIGTERM" >&2; }
	done
	(exit $st)
	drop_db
}
trap cleanup EXIT

train_models 2
v2=$(jq -r .version s2.json)
expect 0 churn-push --init --alias champion m1.churn
expect 0 churn-push --alias challenger m2.churn

# replica N: starts replica N, sets rN_port once it listens and is ready
replica() {
	churn-serve --listen 127.0.0.1:0 --state-dir "st$1" --model champion \
	    --refresh-interval 3600 --registry-timeout 5 --predlog off 2>"r$1.log" &
	pids="$pids $!"
	k=0
	until grep -q 'listening for registry changes' "r$1.log" 2>/dev/null &&
	    grep -q ' listening addr=' "r$1.log"; do
		k=$((k + 1)); [ $k -gt 400 ] && { cat "r$1.log" >&2; fail "replica $1 did not start in 20 s"; }
		sleep 0.05
	done
	eval "r$1_port=\$(sed -n '/ listening addr=/s/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' r$1.log | head -n 1)"
	k=0
	until curl -fs "http://127.0.0.1:$(eval echo \$r$1_port)/ready" >/dev/null; do
		k=$((k + 1)); [ $k -gt 400 ] && { cat "r$1.log" >&2; fail "replica $1 not ready in 20 s"; }
		sleep 0.05
	done
}
replica 1; replica 2

# switched FILTER WHAT: both replicas' GET /rollout satisfy FILTER (the
# delay since the change printed)
switched() {
	t0=$1
	for r in 1 2; do
		eval "p=\$r${r}_port"
		k=0
		until curl -s -m 2 "http://127.0.0.1:$p/rollout" >"ro$r.json" &&
		    jq -e "$2" "ro$r.json" >/dev/null 2>&1; do
			k=$((k + 1)); [ $k -gt 1000 ] && { cat "ro$r.json" >&2; fail "replica $r: '$2' does not hold 10 s after $3"; }
			sleep 0.01
		done
	done
	echo "$3: both replicas switched after $(since "$t0") s"
}

for r in 1 2; do
	eval "p=\$r${r}_port"
	curl -s "http://127.0.0.1:$p/rollout" | jq -e '.rollout.mode == "off"' >/dev/null ||
		fail "replica $r starts with a rollout"
done
t0=$(date +%s.%N)
expect 0 churn-models rollout set challenger --canary 20 --reason "t588"
switched "$t0" '.rollout.mode == "canary" and .rollout.share == 20 and ([.versions[] | select(.role == "challenger" and .model_version == "'"$v2"'")] | length) == 1' "rollout set --canary 20"
t0=$(date +%s.%N)
expect 0 churn-models rollout set --shadow
switched "$t0" '.rollout.mode == "shadow"' "rollout set --shadow"
t0=$(date +%s.%N)
expect 0 churn-models rollout off --reason "t588 done"
switched "$t0" '.rollout.mode == "off" and (.versions | length) == 1' "rollout off"
grep -q 'registry changed.*rollout' r1.log || { cat r1.log >&2; fail "replica 1 logged no rollout notice"; }
grep -q 'registry changed.*rollout' r2.log || { cat r2.log >&2; fail "replica 2 logged no rollout notice"; }
exit 0
