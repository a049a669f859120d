#!/bin/sh
# churn-serve: options, --help, --version, refusals at start (exit 2)
. "$CHURN_TOP/tests/lib.sh"

expect 0 churn-serve --version
grep -qx 'churn-serve [0-9][0-9.]*' out || fail "--version printed: $(cat out)"
expect 0 churn-serve --help
grep -q '^usage: churn-serve' out || fail "--help printed: $(cat out)"
expect 2 churn-serve --no-such-option
grep -q 'usage:' err || fail "no usage on a bad option"
expect 2 churn-serve --threads 0
grep_err "churn-serve: --threads: '0' is not a number from 1 to 256"
expect 2 churn-serve --log-format xml
grep_err "'xml' is not text or json"
expect 2 churn-serve --listen 127.0.0.1:99999 --state-dir st
grep_err "port '99999'"
expect 2 churn-serve --model no-such.model --state-dir st
grep_err "churn-serve: open no-such.model: No such file or directory, and no version or alias 'no-such.model'"
printf 'CHURNMDL not really' >bad.model
expect 2 churn-serve --model bad.model --state-dir st
grep_err "bad.model"
# an address in use
churn-gen --rows 500 -o d.csv && churn-train -o m.model --trees 5 d.csv >/dev/null 2>&1 ||
    fail "could not train a model"
churn-serve --listen 127.0.0.1:0 --model m.model --state-dir st 2>log1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
i=0
until port=$(sed -n '/listening/s/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' log1) && [ -n "$port" ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "first server did not start"
	sleep 0.05
done
expect 2 churn-serve --listen "127.0.0.1:$port" --model m.model --state-dir st2
grep_err "cannot listen on '127.0.0.1:$port'"
# --threads by default: the CPUs it may run on (nproc counts them so too)
grep -q "listening .*threads=$(nproc) " log1 ||
    fail "default threads: $(grep listening log1), not $(nproc)"
# started on one CPU: one worker, the daemon's own thread (no pool, no
# warning from libmicrohttpd), and it answers
if command -v taskset >/dev/null; then
	taskset -c 0 churn-serve --listen 127.0.0.1:0 --model m.model \
	    --state-dir st3 2>log3 &
	pid3=$!
	trap 'kill $pid $pid3 2>/dev/null; wait $pid $pid3 2>/dev/null' EXIT
	i=0
	until port3=$(sed -n '/listening/s/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' log3) && [ -n "$port3" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "server on one CPU did not start: $(cat log3)"
		sleep 0.05
	done
	grep -q 'listening .*threads=1 ' log3 ||
	    fail "on one CPU: $(grep listening log3), not threads=1"
	! grep -q libmicrohttpd log3 || fail "libmicrohttpd warned: $(grep libmicrohttpd log3)"
	curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port3/health" >code
	[ "$(cat code)" = 200 ] || fail "on one CPU, /health answered $(cat code)"
else
	echo "taskset is not installed: the default on one CPU is not checked"
fi
echo ok
