#!/bin/sh
# churn-serve and the common conventions: --model NAME resolves in the one
# default store (./var/store) with nothing configured, -q keeps the log to
# warnings, errors and the listening line, -v logs every request
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

unset CHURN_STORE CHURN_DATABASE_URL CHURN_S3_ENDPOINT CHURN_MODEL
model m.churn 800 1
v=$(jq -r .version m.churn.json)
churn-push --init --alias champion m.churn >/dev/null || fail "churn-push failed"
[ -d var/store ] || fail "churn-push did not use ./var/store"

start_serve --model champion
req GET /health; want 200; jqok '.model_version == "'"$v"'"'
stop_serve
# a name that is nowhere: both places said, exit 2 at start
expect 2 churn-serve --listen 127.0.0.1:0 --state-dir st --model challenger
grep_err "open challenger: No such file or directory, and no version or alias 'challenger'"

start_serve -q --model m.churn
req GET /health; want 200
stop_serve
grep -q 'listening' serve.log || fail "-q dropped the listening line"
grep -v 'listening' serve.log | grep -q ' info ' &&
    fail "-q logged info lines: $(cat serve.log)"

start_serve -v --model m.churn
req GET /health; want 200
stop_serve
grep -q 'info request.*path=/health' serve.log || fail "-v logged no request line: $(cat serve.log)"
exit 0
