#!/bin/sh
# churn-serve: slow clients cannot take every connection (slowloris): a
# per-address limit, a deadline for the whole request that a trickle of
# bytes does not reset, and room for new clients when the server is full;
# /metrics counts what was refused
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
py=/usr/bin/python3
[ -x $py ] || skip "no $py for the traffic generator"
ulimit -n "$(ulimit -H -n)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] ||
    skip "ulimit -n is $(ulimit -n) (hard limit), 4096 needed"
hostile() { timeout 60 $py "$CHURN_TOP/tests/http/hostile.py" "$URL" probe.json "$@"; }
# counter REASON : churn_connections_refused_total for the reason
counter() {
	curl -s "$URL/metrics" | sed -n "s/^churn_connections_refused_total{reason=\"$1\"} //p"
}

model m.model
customer 1 m.model.csv >probe.json

# 1,100 connections trickling one byte a second from eight addresses:
# with the defaults, /predict from another address is still answered
start_serve --model m.model
hostile slow 1100 8 1 || fail "slow connections kept /predict from answering"
n=$(counter per_ip)
[ "${n:-0}" -gt 0 ] || fail "no connection refused for its address: '$n'"
stop_serve

# a trickle does not reset the request deadline: every slow request is cut
# after 2 s, headers or body; the fifth connection of an address is refused
start_serve --model m.model --request-timeout 2 --max-connections-per-ip 4
hostile slow 40 5 0.5 all-closed || fail "slow requests outlived the deadline"
n=$(counter deadline)
[ "${n:-0}" -ge 30 ] || fail "$n connections cut at the deadline, not 30 or more"
n=$(counter per_ip)
[ "${n:-0}" -ge 1 ] || fail "no connection refused for its address: '$n'"
stop_serve

# a full server makes room for a new client by closing the oldest
# connection that has not sent a whole request
start_serve --model m.model --max-connections 50 --max-connections-per-ip 0
# (50 slow connections hold it full; each probe gets in)
hostile slow 80 5 1 || fail "a full server did not make room for new clients"
n=$(counter evicted) l=$(counter limit)
echo "evicted $n, refused at the limit $l"
[ "${n:-0}" -ge 1 ] || fail "no connection closed to make room"
[ $((n + l)) -ge 30 ] || fail "$n closed to make room and $l refused, not 30 or more in all"
curl -s "$URL/metrics" | grep -q '^churn_connections_open [0-9]' ||
    fail "no churn_connections_open gauge"
stop_serve

# a request that arrived whole is not cut however long its answer takes;
# on a kept-alive connection the deadline starts again after each answer
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --request-timeout 1 \
    --retrain-cmd 'sleep 2; echo "{\"done\":true}"'
req POST /retrain -H 'Authorization: Bearer tok'; want 200; jqok '.done == true'
$py - "$PORT" <<'PY' || fail "the deadline on a kept-alive connection"
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
sock = None
for pause in (0, 0.5, 0.5):
    time.sleep(pause)
    c.request("GET", "/health")
    r = c.getresponse()
    r.read()
    if r.status != 200 or (sock and c.sock is not sock):
        sys.exit("GET /health after %.1f s idle: %d, same connection: %s"
                 % (pause, r.status, c.sock is sock))
    sock = c.sock
time.sleep(2)
try:
    c.request("GET", "/health")
    c.getresponse().read()
    sys.exit("a kept-alive connection idle for 2 s was still open")
except ConnectionError:
    pass
PY
echo ok
