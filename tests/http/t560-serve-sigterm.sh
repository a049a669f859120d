#!/bin/sh
# churn-serve: SIGTERM stops accepting, lets the request in flight finish,
# removes the pid file and exits 0
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --pid-file serve.pid \
    --retrain-cmd 'sleep 1; echo "{\"done\":true}"' --log-format json
[ -s serve.pid ] || fail "no pid file"

# a slow request in flight when the signal comes
curl -s -o slow.body -w '%{http_code}' -X POST -H 'Authorization: Bearer tok' \
    "$URL/retrain" >slow.status &
c=$!
sleep 0.4
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
rc=$?
SERVE_PID=
wait $c
[ "$rc" -eq 0 ] || { cat serve.log >&2; fail "churn-serve exited $rc after SIGTERM, not 0"; }
[ "$(cat slow.status)" = 200 ] || fail "the request in flight got '$(cat slow.status)': $(cat slow.body)"
jq -e '.done == true' slow.body >/dev/null || fail "in-flight answer: $(cat slow.body)"
[ -e serve.pid ] && fail "the pid file is still there"
# the logs are JSON lines, and say it stopped
jq -e -s 'all(has("time") and has("level") and has("msg")) and any(.msg == "stopped")' serve.log >/dev/null ||
    { cat serve.log >&2; fail "log lines are not JSON events ending in 'stopped'"; }
# nothing listens any more
s=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
[ "$s" = 000 ] || fail "still answering after exit: $s"
echo ok
