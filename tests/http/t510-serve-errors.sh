#!/bin/sh
# churn-serve: every error status answers JSON {"error": ...}
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

isjson() { jqok '(.error | type) == "string" and (.error | length) > 0'; }

# 503 without a model: not ready, cannot predict
start_serve
req GET /health; want 200; jqok '.model_version == null'
req GET /ready; want 503; isjson
req POST /predict -d '{}'; want 503; isjson
req GET /predict/schema; want 503; isjson
stop_serve

model m.model
customer 1 m.model.csv >one.json
CHURN_ADMIN_TOKEN=sesame start_serve --model m.model --body-limit 4096

req GET /no/such/route; want 404; isjson; jqok '.error | test("/no/such/route")'
req GET /predict; want 405; isjson
grep -qi '^allow: POST' hdr || fail "405 without Allow: POST"
req DELETE /health; want 405; isjson
grep -qi '^allow: GET, HEAD' hdr || fail "405 without Allow: GET, HEAD"
req POST /predict -H 'Content-Type: application/json' -d '{"tenure": '; want 400; isjson
jqok '.error | test("line 1")'
req POST /predict -d '"a string"'; want 400; isjson
# no Content-Length and not chunked
status=$(curl -s -o body -w '%{http_code}' -X POST -H 'Content-Type: application/json' "$URL/predict")
m=POST p=/predict want 411; isjson
head -c 5000 /dev/zero | tr '\0' ' ' >big
req POST /predict -H 'Content-Type: application/json' --data-binary @big; want 413; isjson
# chunked upload past the limit
req POST /predict -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary @big; want 413; isjson
req POST /predict -H 'Content-Type: application/xml' --data-binary @one.json; want 415; isjson
# missing feature, mistyped feature: 422 naming the field
jq -c 'del(.tenure)' one.json >missing.json
req POST /predict --data-binary @missing.json; want 422; isjson
jqok '.field == "tenure" and (.error | test("tenure"))'
jq -c '.MonthlyCharges = true' one.json >bad.json
req POST /predict --data-binary @bad.json; want 422; jqok '.field == "MonthlyCharges"'
jq -s -c '[.[0], .[1]]' one.json bad.json >arr.json
req POST /predict --data-binary @arr.json; want 422; jqok '.field == "MonthlyCharges" and (.error | startswith("[1]"))'
req POST /predict -d '[1]'; want 422; isjson
# CSV with a column missing, and a bad number
cut -d, -f1-5 m.model.csv | head -3 >cut.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @cut.csv; want 422; isjson
# a bad number is missing, as training takes it, with a Warning naming it
head -3 m.model.csv | sed '3s/,[0-9.]*,[0-9.]*,\(Yes\|No\)$/,abc,1,\1/' >badnum.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @badnum.csv; want 200
grep -qi "^warning: 299 churn-serve \"request body:3: column 'MonthlyCharges': 'abc' is not a number, scored as missing" hdr ||
	fail "no Warning for a bad number: $(cat hdr)"
[ "$(wc -l <body)" -eq 3 ] || fail "a bad number: $(wc -l <body) lines, not 3"
# an unknown field is ignored
jq -c '.shoeSize = 44' one.json >extra.json
req POST /predict --data-binary @extra.json; want 200
# 401: admin routes without or with a wrong token
req POST /reload; want 401; isjson
grep -qi '^www-authenticate: Bearer' hdr || fail "401 without WWW-Authenticate"
req POST /reload -H 'Authorization: Bearer sesame2'; want 401
req POST /reload -H 'Authorization: Basic sesame'; want 401
req POST /drift/check -H 'Authorization: Bearer wrong'; want 401
req POST /retrain; want 401
# retrain not configured, webhooks not configured
req POST /retrain -H 'Authorization: Bearer sesame'; want 503; isjson
req POST /hooks/github -H 'Content-Type: application/json' -d '{}'; want 503; isjson
req GET '/drift/reports?limit=x'; want 400; isjson
# the errors were counted
req GET /metrics
for s in 400 401 404 405 411 413 415 422 503; do
	grep -q "status=\"$s\"" body || fail "metrics lack status $s"
done
echo ok
