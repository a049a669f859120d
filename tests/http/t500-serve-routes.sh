#!/bin/sh
# churn-serve: every read route and /predict in its three forms
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
v=$(jq -r .version m.model.json)
customer 1 m.model.csv >one.json
start_serve --model m.model

req GET /health; want 200
jqok '.status == "ok" and .model_version == "'"$v"'" and (.uptime_s | type) == "number"
    and .reloads == 1 and (.last_reload | test("^[0-9-]+T[0-9:]+Z$")) and (.request_rate | type) == "number"'
req GET /ready; want 200; jqok '.ready == true'
req GET /predict/schema; want 200
jqok '.model_version == "'"$v"'" and .target == "Churn" and (.features | length) > 10
    and (.features[] | select(.name == "Contract") | .type == "categorical" and (.categories | length) == 3)
    and (.features[] | select(.name == "tenure") | .type == "numeric" and has("median"))'
req GET /model; want 200; jqok '.version == "'"$v"'" and (.sha256 | length) == 64'
req GET /models; want 200; jqok '.versions[0].version == "'"$v"'" and (.history | type) == "array" and (.aliases | type) == "object"'
req GET /drift/reports; want 200; jqok '.reports == []'

# one customer, several, CSV, explanation
req POST /predict -H 'Content-Type: application/json' --data-binary @one.json; want 200
jqok '(.churn_probability | . >= 0 and . <= 1) and (.churn | type) == "boolean" and .model_version == "'"$v"'"'
grep -q '^content-type: application/json' hdr || grep -qi '^content-type: application/json' hdr || fail "no JSON content type"
jq -s -c '.' one.json one.json >two.json
req POST /predict --data-binary @two.json; want 200
jqok 'length == 2 and .[0].churn_probability == .[1].churn_probability'
head -4 m.model.csv >three.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @three.csv; want 200
[ "$(wc -l <body)" -eq 4 ] || fail "CSV answer has $(wc -l <body) lines, not 4"
head -1 body | grep -qx 'customerID,churn_probability,churn' || fail "CSV header: $(head -1 body)"
grep -qi '^content-type: text/csv' hdr || fail "CSV answer is not text/csv"
req POST '/predict?explain=1' --data-binary @one.json; want 200
jqok '(.explanation | length) > 10 and (.explanation[0] | has("feature") and has("value") and has("reference") and has("delta"))
    and ([.explanation[].delta | fabs] as $d | $d == ($d | sort | reverse))'
# the window got every scored row: 1 + 2 + 3 + 1
sleep 1.2
[ "$(wc -l <st/window.jsonl)" -eq 7 ] || fail "window holds $(wc -l <st/window.jsonl) rows, not 7"
jq -e 'has("churn_probability") and has("model_version") and has("time") and has("Contract")' st/window.jsonl >/dev/null ||
    fail "window rows lack fields: $(head -1 st/window.jsonl)"

# UI and static files
req GET /; want 200
grep -qi '^content-type: text/html' hdr || fail "/ is not HTML"
grep -q '<html' body || fail "/ is not the UI page"
req GET /favicon.ico; [ "$status" = 200 ] || [ "$status" = 204 ] || fail "/favicon.ico: $status"
req GET /static/no-such-file.js; want 404; jqok '.error | test("no such file")'
status=$(curl -s -o body -w '%{http_code}' -I "$URL/health"); [ "$status" = 200 ] || fail "HEAD /health: $status"

# metrics reflect what happened
req GET /metrics; want 200
grep -q '^churn_http_requests_total{route="/predict",status="200"} 4$' body || fail "metrics: $(grep predict body)"
grep -q '^churn_predictions_total 7$' body || fail "metrics: $(grep predictions body)"
grep -q '^churn_model_info{version="'"$v"'",' body || fail "metrics lack the model version"
grep -q '^churn_http_request_duration_seconds_bucket{route="/predict",le="+Inf"} 4$' body || fail "no latency histogram"
grep -q '^churn_model_reloads_total 1$' body || fail "no reload counter"
echo ok
