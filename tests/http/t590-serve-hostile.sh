#!/bin/sh
# churn-serve under hostile traffic, bounded (loopback only, about half a
# minute): requests that are not UTF-8, 2,000 slow connections, a registry
# that never answers, replayed webhooks and oversized window rows, each
# phase on a fresh server while a probe sends /predict every 100 ms from
# 127.0.0.1.  In every phase each probe is answered 200 within 1 s (the
# latencies are printed), the phase's own checks hold, and the server is
# alive at the end and exits 0 on SIGTERM.  The phases are reported one by
# one; the test fails if any of them does.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
py=/usr/bin/python3
[ -x $py ] || skip "no $py for the traffic generator"
command -v openssl >/dev/null || skip "openssl command not installed"
command -v timeout >/dev/null || skip "no timeout(1)"
ulimit -n "$(ulimit -H -n)" 2>/dev/null
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge 4096 ] ||
    skip "ulimit -n is $(ulimit -n) (hard limit), 4096 needed"
top=$PWD
hostile() { timeout 55 $py "$CHURN_TOP/tests/http/hostile.py" "$URL" "$top/probe.json" "$@"; }
counter() {
	curl -s -m 5 "$URL/metrics" | sed -n "s/^churn_connections_refused_total{reason=\"$1\"} //p"
}

model m.model
customer 1 m.model.csv >probe.json

# the black-hole registry: an S3 endpoint that accepts and never answers
# (it ends itself after two minutes if this test is killed)
$py -c '
import signal, socket
signal.alarm(120)
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(128)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' >bh.port &
bh=$!
trap 'kill $bh 2>/dev/null; stop_serve' EXIT
i=0
until [ -s bh.port ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the black-hole registry did not start"
	sleep 0.05
done
CHURN_STORE=s3://churn-hostile/models
CHURN_S3_ENDPOINT=http://127.0.0.1:$(cat bh.port)
AWS_ACCESS_KEY_ID=hostile AWS_SECRET_ACCESS_KEY=hostile-secret AWS_REGION=us-east-1
export CHURN_STORE CHURN_S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
unset CHURN_DATABASE_URL

# finish : the server is alive, then stops on SIGTERM with status 0
# within 15 s (killed otherwise); returns the phase's status
finish() {
	kill -0 "$SERVE_PID" 2>/dev/null || { SERVE_PID=; tail -n 20 serve.log; echo "FAIL: churn-serve died"; return 1; }
	s=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$URL/health")
	[ "$s" = 200 ] || { echo "FAIL: /health answered '$s' at the end"; r=1; }
	kill "$SERVE_PID"
	i=0
	while kill -0 "$SERVE_PID" 2>/dev/null && [ $i -lt 150 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 "$SERVE_PID" 2>/dev/null; then
		kill -9 "$SERVE_PID"; wait "$SERVE_PID"; SERVE_PID=
		echo "FAIL: churn-serve did not exit within 15 s of SIGTERM"
		return 1
	fi
	wait "$SERVE_PID"; s=$?; SERVE_PID=
	[ $s -eq 0 ] || { tail -n 20 serve.log; echo "FAIL: churn-serve exited $s on SIGTERM"; return 1; }
	return $r
}

phase_nonutf8() {
	CHURN_WEBHOOK_SECRET=unused start_serve --model "$top/m.model" \
	    --pipeline-cmd true
	hostile nonutf8 || r=1
	finish
}

phase_slow() {
	start_serve --model "$top/m.model"
	hostile slow 2000 10 1 || r=1
	n=$(counter per_ip)
	[ "${n:-0}" -gt 0 ] || { echo "FAIL: no connection refused for its address: '$n'"; r=1; }
	echo "  refused: per_ip $n, limit $(counter limit), deadline $(counter deadline), evicted $(counter evicted)"
	finish
}

phase_blackhole() {
	start_serve --model "$top/m.model"
	hostile blackhole 4 || r=1
	finish
}

phase_replay() {
	secret='hostile secret'
	printf '{"ref":"refs/heads/main","after":"0123abcd","repository":{"name":"churn"}}' >push.json
	sig=sha256=$(openssl dgst -sha256 -hmac "$secret" -r push.json | cut -d' ' -f1)
	CHURN_WEBHOOK_SECRET=$secret start_serve --model "$top/m.model" \
	    --pipeline-cmd "echo run >>'$PWD/ran'; sleep 2"
	hostile replay push.json "$sig" 30 || r=1
	sleep 1
	n=$(cat ran 2>/dev/null | wc -l)
	echo "  pipelines started: $n"
	[ "$n" -eq 1 ] || { echo "FAIL: 30 replays of one delivery started $n pipelines, not 1"; r=1; }
	finish
}

phase_oversized() {
	start_serve --model "$top/m.model"
	hostile oversized 50 1000000 || r=1
	sleep 0.5       # the window reaches its file five times a second
	n=$(cat st/window*.jsonl 2>/dev/null | wc -c)
	echo "  window: $n bytes after 50 rows with a 1 MB junk key"
	[ "$n" -lt 1000000 ] || { echo "FAIL: the window grew to $n bytes"; r=1; }
	finish
	s=$?
	rm -rf st
	return $s
}

failed=
for ph in nonutf8 slow blackhole replay oversized; do
	echo "--- $ph"
	( mkdir "$ph" && cd "$ph" && r=0 && "phase_$ph" )
	if [ $? -eq 0 ]; then
		echo "--- $ph: ok"
	else
		echo "--- $ph: FAIL"
		failed="$failed $ph"
	fi
done
[ -z "$failed" ] || fail "phases failed:$failed"
echo ok
