#!/bin/sh
# Without a database there is no NOTIFY: churn-serve follows its alias by
# polling, each --refresh-interval.  A move shows within the interval (the
# delay printed; a 10 s hang bound asserted), and a model given as a file
# path is never replaced.
. "$CHURN_TOP/tests/lib.sh"
command -v churn-push >/dev/null || skip "churn-push is not built"
. "$CHURN_TOP/tests/http/serve.sh"
# since T0: seconds from T0 (date +%s.%N) to now
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
churn-gen --rows 600 --seed 2 -o d.csv || fail "churn-gen failed"
for i in 1 2; do
	SOURCE_DATE_EPOCH=$((1700000000 + i * 60)) churn-train --trees 3 --seed "$i" \
	    -o "m$i.churn" d.csv >"s$i.json" 2>train.err || { cat train.err >&2; fail "churn-train failed"; }
done
v1=$(jq -r .version s1.json) v2=$(jq -r .version s2.json)
churn-push --init --alias champion m1.churn >/dev/null || fail "churn-push m1 failed"
churn-push m2.churn >/dev/null || fail "churn-push m2 failed"
start_serve --model champion --refresh-interval 0.5

req GET /health; want 200; jqok '.model_version == "'"$v1"'"'
churn-models alias set champion "$v2" >/dev/null || fail "alias set failed"
t0=$(date +%s.%N)
k=0
until req GET /health && jq -e '.model_version == "'"$v2"'"' body >/dev/null; do
	k=$((k + 1)); [ $k -gt 1000 ] && fail "the alias move did not show in 10 s"
	sleep 0.01
done
echo "index in the store: the move showed after $(since "$t0") s (--refresh-interval 0.5)"
grep -q 'reloaded.*model_version='"$v2" serve.log || fail "the reload was not logged"
req GET /models; want 200; jqok '.aliases.champion == "'"$v2"'"'
stop_serve

# a file path is never followed
start_serve --model "$PWD/m1.churn" --refresh-interval 0.2
sleep 1
req GET /health; want 200; jqok '.model_version == "'"$v1"'" and .reloads == 1'
stop_serve
echo ok
