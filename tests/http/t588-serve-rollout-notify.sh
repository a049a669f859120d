#!/bin/sh
# Two churn-serve replicas on PostgreSQL with a refresh interval of an
# hour: churn-models rollout set / off announce the change with NOTIFY in
# their transaction, so both replicas switch (GET /rollout) without waiting
# for the poll.  Delays are printed, and asserted only as a 10 s hang bound.
# In the shadow, outcomes recorded with churn-outcomes are compared with the
# prediction log in the database, paired, alike by churn-models compare and
# by the other replica's GET /rollout.
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
	    --refresh-interval 3600 --registry-timeout 5 --predlog-flush-interval 0.2 2>"r$1.log" &
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
# the shadow compared from the database: customers scored by replica 1,
# their outcomes recorded with churn-outcomes, churn-models compare and
# replica 2's GET /rollout pair them alike
churn-gen --rows 300 --seed 4 -o c.csv || fail "churn-gen failed"
awk -F, 'BEGIN { OFS = "," } NR > 1 { $1 = "s" NR } { NF--; print }' c.csv >cust.csv
awk -F, 'BEGIN { OFS = "," } NR > 1 { $1 = "s" NR } { print $1, $NF }' c.csv |
	sed '1s/.*/id,outcome/' >outcomes.csv
curl -sf -H 'Content-Type: text/csv' --data-binary @cust.csv "http://127.0.0.1:$r1_port/predict" >scores.csv ||
	fail "POST /predict to replica 1 failed"
k=0
until curl -s "http://127.0.0.1:$r1_port/metrics" | grep -q '^churn_predlog_rows_total{result="recorded"} 300$'; do
	k=$((k + 1)); [ $k -gt 200 ] && fail "the 300 rows did not reach the prediction log in 20 s"
	sleep 0.1
done
expect 0 churn-outcomes --time "$(date -u -d tomorrow +%F)" --positive Yes outcomes.csv
expect 0 churn-models compare --json
jq -e '.paired and .mode == "shadow" and .versions[0].labelled == 300 and .versions[1].labelled == 300
	and .versions[1].version == "'"$v2"'" and (.roc_auc_diff_ci | length) == 2' out >/dev/null ||
	fail "compare on the database: $(cat out)"
cp out cmp.json
k=0
until curl -s "http://127.0.0.1:$r2_port/rollout" >ro2.json &&
    jq -e --slurpfile c cmp.json '.comparison.versions == $c[0].versions and .comparison.verdict == $c[0].verdict' ro2.json >/dev/null; do
	k=$((k + 1)); [ $k -gt 150 ] && fail "replica 2's GET /rollout differs from churn-models compare: $(cat ro2.json)"
	sleep 0.2
done
t0=$(date +%s.%N)
expect 0 churn-models rollout off --reason "t588 done"
switched "$t0" '.rollout.mode == "off" and (.versions | length) == 1' "rollout off"
grep -q 'registry changed.*rollout' r1.log || { cat r1.log >&2; fail "replica 1 logged no rollout notice"; }
grep -q 'registry changed.*rollout' r2.log || { cat r2.log >&2; fail "replica 2 logged no rollout notice"; }
exit 0
