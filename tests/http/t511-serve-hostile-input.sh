#!/bin/sh
# churn-serve: bytes that are not UTF-8 in the path, method, query, headers
# or body never kill the server nor turn an answer into a 500: each gets
# its own status with a JSON error, the bad bytes shown as \xNN
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

isjson() { jqok '(.error | type) == "string" and (.error | length) > 0'; }
# alive : the server still runs and answers
alive() {
	kill -0 "$SERVE_PID" 2>/dev/null || { tail -n 20 serve.log >&2; SERVE_PID=; fail "churn-serve died after $m $p"; }
	s=$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")
	[ "$s" = 200 ] || fail "after $m $p: /health answered '$s'"
}

model m.model
customer 1 m.model.csv >one.json
FF=$(printf '\377')
printf '#!/bin/sh\nprintf "done \\377\\n"\n' >retrain.sh
chmod +x retrain.sh
CHURN_ADMIN_TOKEN=sesame CHURN_WEBHOOK_SECRET=hush \
    start_serve --model m.model --retrain-cmd ./retrain.sh --access-log

# the path (percent-decoded by the server), also under /static/
req GET /%ff; want 404; isjson; jqok '.error | test("\\\\xff")'; alive
req GET /static/%ff; want 404; isjson; alive
req GET "/a%c3"; want 404; isjson; alive
# the query
req GET '/drift/reports?limit=%ff'; want 400; isjson; jqok '.error | test("\\\\xff")'; alive
req POST '/reload?model=%ff' -H 'Authorization: Bearer sesame'; want 500; isjson
jqok '.error != "out of memory"'; alive
# the method
req "GE${FF}T" /health; want 405; isjson; alive
req "GE${FF}T" /; want 405; isjson; alive
# the Content-Type
req POST /predict -H "Content-Type: $FF" --data-binary @one.json; want 415; isjson; alive
req POST /hooks/github -H "Content-Type: app${FF}" -d '{}'; want 415; isjson; alive
# the webhook's event header, after a good signature
sig=$(printf '{}' | openssl dgst -sha256 -hmac hush | sed 's/.* //')
req POST /hooks/github -H 'Content-Type: application/json' \
    -H "X-Hub-Signature-256: sha256=$sig" -H "X-GitHub-Event: p${FF}sh" -d '{}'
want 400; isjson; alive
# a JSON body that is not UTF-8: jansson's message quotes the byte
printf '{"tenure": "\377"}' >bad.json
req POST /predict --data-binary @bad.json; want 400; isjson; alive
# a number that is not UTF-8 (CSV), or a JSON string cut inside a
# character: scored as missing, and the warning quoting it is still ASCII
# (the header) or JSON (the answer), not a 500
head -2 m.model.csv | sed "2s/,[0-9.]*,\([0-9.]*\),\(Yes\|No\)\$/,$FF,\1,\2/" >ff.csv
grep -q "$FF" ff.csv || fail "ff.csv was not made"
req POST /predict -H 'Content-Type: text/csv' --data-binary @ff.csv; want 200
grep -i '^warning:' hdr | grep -q "MonthlyCharges" || fail "no Warning naming MonthlyCharges"
grep -i '^warning:' hdr | LC_ALL=C grep -q '[^ -~[:space:]]' && fail "a Warning header not ASCII"
alive
long=a$(printf '%040d' 0 | sed 's/0/é/g')
jq -c --arg v "$long" '.MonthlyCharges = $v' one.json >cut.json
req POST /predict --data-binary @cut.json; want 200
jqok '.warnings[0] | test("MonthlyCharges")'; alive
# a child's output that is not UTF-8 (the retrain command)
req POST /retrain -H 'Authorization: Bearer sesame'; want 200
jqok '.output | test("done \\\\xff")'; alive
# the access log kept every request, with its fields
grep -q 'request.*status=404' serve.log || fail "no access log line for the 404"
echo ok
