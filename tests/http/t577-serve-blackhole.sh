#!/bin/sh
# churn-serve with a black-hole registry (an S3 endpoint and a PostgreSQL
# port that accept connections and never answer): GET /models and
# /drift/reports answer 503 with Retry-After at once, and /predict keeps
# answering while clients hammer them
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
[ -x /usr/bin/python3 ] || skip "no /usr/bin/python3 for the black-hole listener"

BH_PID=
LOOPS=
cleanup() {
	for p in $LOOPS; do kill "$p" 2>/dev/null; done
	[ -n "$BH_PID" ] && kill "$BH_PID" 2>/dev/null
	stop_serve
}
trap cleanup EXIT

# a black hole: accepts every connection, never reads, never writes
cat >blackhole.py <<'PY'
import socket, sys, time
held = []
socks = []
for f in sys.argv[1:]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1024)
    s.setblocking(False)
    socks.append(s)
    with open(f + ".tmp", "w") as out:
        out.write("%d\n" % s.getsockname()[1])
    import os
    os.rename(f + ".tmp", f)
while True:
    for s in socks:
        try:
            while True:
                held.append(s.accept()[0])
        except BlockingIOError:
            pass
    time.sleep(0.05)
PY
/usr/bin/python3 blackhole.py s3.port pg.port &
BH_PID=$!
i=0
while [ ! -s pg.port ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the black-hole listener did not start"
	sleep 0.05
done
S3PORT=$(cat s3.port) PGPORT=$(cat pg.port)

model m.model 1500 1
customer 1 m.model.csv >one.json
# blackhole DATABASE_URL : one server on the black-hole S3 endpoint (and
# database, when DATABASE_URL is not empty), hammered and probed
blackhole() {
	CHURN_STORE=s3://churn/blackhole CHURN_S3_ENDPOINT=http://127.0.0.1:$S3PORT \
	AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s CHURN_DATABASE_URL=$1 \
	    start_serve --model "$PWD/m.model" --threads 2

	# the registry routes answer at once: 503 with Retry-After, not a hang
	for p in /models /drift/reports; do
		status=$(curl -s -o body -D hdr --max-time 4 -w '%{http_code}' "$URL$p")
		echo "GET $p: $status"
		[ "$status" = 503 ] || fail "GET $p: status $status, not 503 at once: $(cat body 2>/dev/null)"
		grep -qi '^retry-after: *[0-9]' hdr || fail "GET $p: no Retry-After header"
	done

	# several clients on the registry routes while a probe scores every 100 ms
	for k in 1 2 3 4; do
		( while :; do
			curl -s -o /dev/null --max-time 30 "$URL/models"
			curl -s -o /dev/null --max-time 30 "$URL/drift/reports"
		done ) &
		LOOPS="$LOOPS $!"
	done
	sleep 0.5
	n=0 bad=0
	: >lat
	while [ $n -lt 50 ]; do
		n=$((n + 1))
		out=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' \
		    -H 'Content-Type: application/json' --data-binary @one.json \
		    "$URL/predict")
		echo "$out" >>lat
		set -- $out
		# hang bound 1 s: an answer within it, status 200
		if [ "${1:-000}" != 200 ] || awk -v t="${2:-9}" 'BEGIN { exit !(t >= 1.0) }'; then
			bad=$((bad + 1))
		fi
		sleep 0.1
	done
	for p in $LOOPS; do kill "$p" 2>/dev/null; done
	LOOPS=
	echo "probe latencies (s):" $(awk '{ print $2 }' lat)
	echo "probe statuses:" $(awk '{ print $1 }' lat | sort | uniq -c)
	[ $bad -eq 0 ] || fail "$bad of $n /predict probes got no 200 within the 1 s hang bound"
	kill -0 "$SERVE_PID" || fail "churn-serve died"
	stop_serve
}

echo "--- S3 and PostgreSQL black holes"
blackhole "postgresql://churn:churn@127.0.0.1:$PGPORT/churn"
echo "--- an S3 black hole, the index in the store"
blackhole ""

# the command-line tools keep their own limit, CHURN_REGISTRY_TIMEOUT
echo "--- churn-models list with CHURN_REGISTRY_TIMEOUT=1"
t0=$(date +%s)
CHURN_STORE=s3://churn/blackhole CHURN_S3_ENDPOINT=http://127.0.0.1:$S3PORT \
AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s CHURN_REGISTRY_TIMEOUT=1 \
    timeout 60 churn-models list >out 2>err
rc=$?
echo "exit $rc after $(($(date +%s) - t0)) s: $(cat err)"
[ $rc -eq 2 ] || fail "churn-models list exited $rc, not 2 (124: still waiting after 60 s)"
grep -q 'timed out' err || fail "the message does not say the endpoint timed out"
echo ok
