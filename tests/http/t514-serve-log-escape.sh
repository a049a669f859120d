#!/bin/sh
# churn-serve: a log line is one line whatever a request carries (text:
# no raw CR; JSON: every field kept when a value is not UTF-8)
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
FF=$(printf '\377')
CR=$(printf '\r')
sig() { printf '%s' "$1" | openssl dgst -sha256 -hmac hush | sed 's/.* //'; }

# text: CR in the path is escaped, as LF is
start_serve --model m.model --access-log
req GET '/a%0db'; want 404
req GET '/c%0ad'; want 404
stop_serve
grep -q "$CR" serve.log && fail "a raw CR in the text log: $(grep "$CR" serve.log | od -c | head)"
grep -q 'path="/a\\rb"' serve.log || fail "no escaped path /a\\rb in: $(cat serve.log)"
grep -q 'path="/c\\nd"' serve.log || fail "no escaped path /c\\nd in: $(cat serve.log)"

# JSON: bytes that are not UTF-8 (path, method, webhook delivery id)
# keep every field of their line
body='{"ref":"refs/heads/main","after":"abc"}'
CHURN_WEBHOOK_SECRET=hush start_serve --model m.model --access-log \
    --log-format json --pipeline-cmd true
req GET /x%ffy; want 404
req "GE${FF}T" /health; want 405
# a delivery id that is not one is refused (400) and logged whole
req POST /hooks/github -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: sha256=$(sig "$body")" -H 'X-GitHub-Event: push' \
    -H "X-GitHub-Delivery: d${FF}1" -d "$body"; want 400
# a ref with a CR (JSON's \r) is kept in its field
body='{"ref":"refs/heads/ma\rin","after":"abc"}'
req POST /hooks/github -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: sha256=$(sig "$body")" -H 'X-GitHub-Event: push' \
    -H "X-GitHub-Delivery: d-1" -d "$body"; want 202
stop_serve
jq -c . serve.log >/dev/null || fail "the JSON log is not JSON lines: $(cat serve.log)"
jq -e -s 'map(select(.msg == "request" and .status == 404 and .path == "/x\\xffy")) | length == 1' serve.log >/dev/null ||
    fail "the 404 lost its fields: $(grep 404 serve.log; grep request serve.log)"
jq -e -s 'map(select(.msg == "request" and .status == 405 and (.method | startswith("GE\\xff")))) | length == 1' serve.log >/dev/null ||
    fail "the 405 lost its fields: $(grep request serve.log)"
jq -e -s 'map(select(.msg == "request" and .status == 400 and .path == "/hooks/github")) | length == 1' serve.log >/dev/null ||
    fail "the 400 lost its fields: $(grep request serve.log)"
jq -e -s 'map(select(.msg == "pipeline started" and .delivery == "d-1" and .ref == "refs/heads/ma\rin")) | length == 1' serve.log >/dev/null ||
    fail "the webhook line lost its fields: $(grep pipeline serve.log)"
echo ok
