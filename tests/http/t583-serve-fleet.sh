#!/bin/sh
# A fleet: 3 churn-serve replicas behind HAProxy (docker/haproxy.cfg) under
# wrk load for 30 s.  Five alias moves (churn-models alias set and
# churn-push --alias) reach every replica through NOTIFY; one replica is
# kill -9'd and started again, one is stopped with SIGTERM (--drain); and
# PostgreSQL restarts, a move being made while the replicas cannot reach
# it.  No answer is other than 2xx.  Delays are printed, and asserted only
# as a 10 s hang bound.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
# since T0: seconds from T0 (date +%s.%N) to now
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
. "$CHURN_TOP/tests/cli/registry-lib.sh"
command -v haproxy >/dev/null || skip "haproxy is not installed (scripts/install-deps)"
command -v wrk >/dev/null || skip "wrk is not installed (scripts/install-deps)"
command -v psql >/dev/null || skip "psql is not installed"
use_services

# the test services' cluster: data directory and options from the command
# line of the server on the URL's port (a restart changes its pid)
port=${CHURN_TEST_DATABASE_URL##*:}
port=${port%%/*}
pgpid=$(ps -eo pid=,args= | awk -v p="$port" '$2 ~ /postgres$/ && $0 ~ " -p " p " " { print $1; exit }')
pgcmd=$(tr '\0' '\n' </proc/"${pgpid:-none}"/cmdline 2>/dev/null) ||
    skip "cannot find the PostgreSQL server on port $port"
pgdata=$(echo "$pgcmd" | sed -n '/^-D$/{n;p;}')
pgsock=$(echo "$pgcmd" | sed -n '/^-k$/{n;p;}')
pgport=$(echo "$pgcmd" | sed -n '/^-p$/{n;p;}')
pgbin=$(dirname "$(echo "$pgcmd" | head -n 1)")
[ -d "$pgdata" ] && [ -n "$pgport" ] || skip "cannot find the test cluster's data directory"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
# pg_start LISTEN: the cluster as scripts/services started it, listening on
# LISTEN ('' : the Unix socket only)
pg_start() {
	as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgsock/server.log" -w -t 30 -o \
	    "-c listen_addresses=$1 -p $pgport -k $pgsock -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
	    start >/dev/null || fail "cannot start PostgreSQL"
}
pg_stop() { as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t 30 stop >/dev/null || fail "cannot stop PostgreSQL"; }
pg_tcp() { psql -X -At "$CHURN_TEST_DATABASE_URL" -c 'SELECT 1' >/dev/null 2>&1; }

pids=
lbpid=
wpid=
cleanup() {
	st=$?
	for p in $pids $lbpid $wpid; do kill -9 "$p" 2>/dev/null; done
	# never leave the suite's cluster down or without TCP
	if ! pg_tcp; then
		as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w -t 30 stop >/dev/null 2>&1
		pg_start 127.0.0.1
	fi
	(exit $st)
	drop_db
}
trap cleanup EXIT

train_models 6
i=1
init=--init
while [ "$i" -le 6 ]; do
	eval "v$i=\$(jq -r .version s$i.json)"
	expect 0 churn-push ${init:-} "m$i.churn"
	init=
	i=$((i + 1))
done
expect 0 churn-models alias set champion "$v1"
customer 1 d.csv >row.json

# replica N [PORT]: starts replica N (port 0: a free one), sets rN_pid and
# rN_port once it listens
replica() {
	rm -f "r$1.log"
	churn-serve --listen "127.0.0.1:${2:-0}" --state-dir "st$1" --model champion \
	    --drain 1 --refresh-interval 5 --registry-timeout 2 2>"r$1.log" &
	eval "r$1_pid=$!"
	pids="$pids $!"
	k=0
	until grep -q ' listening addr=' "r$1.log" 2>/dev/null; do
		k=$((k + 1)); [ $k -gt 200 ] && { cat "r$1.log" >&2; fail "replica $1 did not start in 10 s"; }
		sleep 0.05
	done
	eval "r$1_port=\$(sed -n '/ listening addr=/s/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' r$1.log | head -n 1)"
}
replica 1; replica 2; replica 3
free_port() {
	node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
lbport=$(free_port) && stport=$(free_port) || fail "no free port"
# shellcheck disable=SC2154
sed -e "s/127\.0\.0\.1:8000/127.0.0.1:$lbport/" -e "s/127\.0\.0\.1:8001/127.0.0.1:$r1_port/" \
    -e "s/127\.0\.0\.1:8002/127.0.0.1:$r2_port/" -e "s/127\.0\.0\.1:8003/127.0.0.1:$r3_port/" \
    -e "s/127\.0\.0\.1:8404/127.0.0.1:$stport/" "$CHURN_TOP/docker/haproxy.cfg" >haproxy.cfg
haproxy -c -q -f haproxy.cfg || fail "haproxy -c refuses the example configuration"
haproxy -db -f haproxy.cfg >haproxy.log 2>&1 &
lbpid=$!
k=0
until [ "$(curl -s "http://127.0.0.1:$stport/stats;csv" | grep -c '^replicas,r[0-9],.*,UP,')" = 3 ]; do
	k=$((k + 1)); [ $k -gt 200 ] && { cat haproxy.log >&2; fail "the replicas are not all UP in HAProxy after 10 s"; }
	sleep 0.05
done
curl -fsS -H 'Content-Type: application/json' --data-binary @row.json \
    "http://127.0.0.1:$lbport/predict" >one.out || fail "no prediction through HAProxy"

cat >post.lua <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("row.json"); wrk.body = f:read("*a"); f:close()
LUA
wrk -t2 -c16 -d30s -s post.lua "http://127.0.0.1:$lbport/predict" >wrk.out 2>&1 &
wpid=$!
start=$(date +%s)

# moved VERSION: every replica's /health names it (the delay printed)
moved() {
	t0=$(date +%s.%N)
	for r in 1 2 3; do
		eval "p=\$r${r}_port"
		[ -n "$p" ] || continue
		k=0
		until [ "$(curl -s -m 2 "http://127.0.0.1:$p/health" | jq -r .model_version)" = "$1" ]; do
			k=$((k + 1)); [ $k -gt 1000 ] && fail "replica $r does not serve $1 10 s after the move"
			sleep 0.01
		done
	done
	echo "$2: every replica serves $1 after $(since "$t0") s"
}

sleep 2
expect 0 churn-models alias set champion "$v2"; moved "$v2" "move 1 (alias set)"
# a replica dies without warning and comes back
kill -9 "$r2_pid"; wait "$r2_pid" 2>/dev/null
sleep 1
replica 2 "$r2_port"
sleep 1
expect 0 churn-push --alias champion m3.churn; moved "$v3" "move 2 (churn-push --alias)"
sleep 2
expect 0 churn-models alias set champion "$v4"; moved "$v4" "move 3 (alias set)"
# PostgreSQL restarts; while it listens on its socket only, the replicas
# cannot reach it and a move is made there
pg_stop
pg_start "''"
CHURN_DATABASE_URL="postgresql://churn@/${CHURN_DATABASE_URL##*/}?host=$pgsock&port=$pgport" \
    churn-models alias set champion "$v5" >/dev/null || fail "alias set over the socket failed"
sleep 1
pg_stop
pg_start 127.0.0.1
moved "$v5" "move 4 (made while the replicas were cut off)"
sleep 2
expect 0 churn-models alias set champion "$v6"; moved "$v6" "move 5 (alias set)"
grep -q 'listening for registry changes again' r1.log || fail "replica 1 did not log its reconnection"
# a replica stopped with SIGTERM drains: /ready 503 first, exit 0
sleep 3
t0=$(date +%s.%N)
kill -TERM "$r3_pid"
k=0
until [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$r3_port/ready")" != 200 ]; do
	k=$((k + 1)); [ $k -gt 1000 ] && fail "/ready still 200 10 s after SIGTERM"
	sleep 0.01
done
echo "SIGTERM: /ready 503 after $(since "$t0") s"
wait "$r3_pid"; rc=$?
[ "$rc" -eq 0 ] || { tail r3.log >&2; fail "replica 3 exited $rc on SIGTERM"; }
r3_port=

wait "$wpid"; wpid=
cat wrk.out
n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' wrk.out)
[ -n "$n" ] && [ "$n" -gt 1000 ] || fail "wrk made ${n:-no} requests"
bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\)/\1/p' wrk.out)
[ -z "$bad" ] || fail "$bad answers through HAProxy were not 2xx"
grep -q 'Socket errors' wrk.out && fail "wrk saw socket errors"
curl -s "http://127.0.0.1:$stport/stats;csv" >stats.csv
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
    $1 == "replicas" && $2 == "BACKEND" { print "haproxy: retries " $c["wretr"] ", redispatches " $c["wredis"] }' stats.csv
echo "requests: $n in $(( $(date +%s) - start )) s, 0 non-2xx"
echo ok
