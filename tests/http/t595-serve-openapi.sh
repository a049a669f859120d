#!/bin/sh
# churn-serve: /openapi.json describes every route of the route table and
# validates as OpenAPI 3; every route answers a method it does not take
# with 405 and the Allow header its description implies
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v node >/dev/null || skip "node is not installed (scripts/install-deps)"
V=$CHURN_TOP/tests/node_modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js
[ -f "$V" ] || skip "the OpenAPI validator is not installed: run 'npm ci' in tests/"

# valid validates, and the validator can fail: a document without info
validate() {
	node "$V" "$1" >valid.out 2>&1 ||
	    { cat valid.out >&2; fail "$1 is not a valid OpenAPI document"; }
	jq 'del(.info)' "$1" >broken.json
	node "$V" broken.json >broken.out 2>&1 &&
	    fail "the validator took a document without info"
	return 0
}

# no model loaded: still a whole description
start_serve
req GET /openapi.json; want 200
grep -qi '^content-type: application/json' hdr || fail "/openapi.json is not JSON"
cp body nomodel.json
validate nomodel.json
stop_serve

model m.model
start_serve --model m.model
req GET /openapi.json; want 200
cp body openapi.json
validate openapi.json
jqok '.openapi == "3.0.3" and (.info.version | length) > 0'
jqok '.paths | has("/") and has("/static/{file}") and has("/health") and has("/predict")
    and has("/drift/check") and has("/hooks/github") and has("/metrics") and has("/openapi.json")'
# admin routes need the bearer token, and say so
jqok '.components.securitySchemes.admin == {"type": "http", "scheme": "bearer",
    "description": .components.securitySchemes.admin.description}'
jqok '[.paths[][] | select(.security) | .operationId] | sort
    == ["post_drift_check", "post_outcomes", "post_reload", "post_retrain"]'
# bodies and answers by media type
jqok '.paths["/predict"].post.requestBody.content | keys == ["application/json", "text/csv"]'
jqok '.paths["/predict"].post.responses["200"].content | keys == ["application/json", "text/csv"]'
jqok '.paths["/predict"].post.parameters[0].name == "explain"'
jqok '.paths["/hooks/github"].post.responses | has("202")'
jqok '[.paths[][].responses.default["$ref"]] | unique == ["#/components/responses/Error"]'
# /predict's customer is the loaded model's: every feature required
jq -c '.components.schemas.Customer.required | sort' openapi.json >required
req GET /predict/schema; want 200
jq -c '[.features[].name] | sort' body >features
same features required
jq -e '.components.schemas.Customer.properties.Contract["x-categories"] | length == 3' openapi.json >/dev/null ||
    fail "Contract's categories are not described"

# 405 with Allow for every route, as the description says
jq -r '.paths | to_entries[] | "\(.key) \(.value | keys | map(ascii_upcase) | join(", "))"' \
    openapi.json >routes
n=0
while read -r path allow; do
	path=$(echo "$path" | sed 's/{file}/app.js/')
	case $allow in
	POST) bad="GET PUT DELETE" ;;
	"GET, HEAD") bad="POST PUT DELETE PATCH" ;;
	*) fail "$path: methods '$allow'" ;;
	esac
	for meth in $bad; do
		req "$meth" "$path"; want 405
		got=$(sed -n 's/^[Aa]llow: *//p' hdr | tr -d '\r')
		[ "$got" = "$allow" ] || fail "$meth $path: Allow '$got', not '$allow'"
	done
	n=$((n + 1))
done <routes
echo "405 and Allow checked on $n routes"
[ "$n" -ge 17 ] || fail "only $n routes described"
# the description's own route is counted under its name (this server
# answered it once, then 4 times 405)
req GET /metrics; want 200
grep -q '^churn_http_requests_total{route="/openapi.json",status="200"} 1$' body &&
grep -q '^churn_http_requests_total{route="/openapi.json",status="405"} 4$' body ||
    fail "metrics: $(grep 'requests_total.*openapi' body)"
echo ok
