#!/bin/sh
# churn-serve: /drift/check runs the drift program CGI-style over the
# live-traffic window or the posted data, with time and size limits
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
here=$PWD
# a stand-in for churn-drift whose behaviour ./mode selects
cat >fake-drift <<SH
#!/bin/sh
echo "\$*" >"$here/args"
cat >"$here/stdin"
case \$(cat "$here/mode") in
drift) printf '{"model_version":"vX","drift":true,"drift_share":0.5,"features":[]}\n'; exit 1 ;;
ok) printf '{"model_version":"vX","drift":false,"drift_share":0,"features":[]}\n'; exit 0 ;;
slow) sleep 5; exit 0 ;;
big) head -c 300000 /dev/zero | tr '\0' x; exit 0 ;;
bad) echo "churn-drift: request body:3: column 'tenure': 'x' is not a number" >&2; exit 2 ;;
nojson) echo "hello"; exit 0 ;;
esac
SH
chmod +x fake-drift
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --drift-cmd "$here/fake-drift" \
    --drift-timeout 1

echo drift >mode
req POST /drift/check -H "$auth"; want 422; jqok '.error | test("window is empty")'
head -21 m.model.csv >twenty.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @twenty.csv; want 200

# over the window: JSON lines on stdin, exit 1 is drift, not an error
req POST /drift/check -H "$auth"; want 200
jqok '.drift == true and .drift_share == 0.5'
grep -q -- "-m $here/m.model --json-in -" args || fail "drift program got: $(cat args)"
[ "$(wc -l <stdin)" -eq 20 ] || fail "drift program read $(wc -l <stdin) rows, not 20"
jq -e 'has("tenure")' stdin >/dev/null || fail "window rows lack features"

# over posted CSV
echo ok >mode
req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @twenty.csv; want 200
jqok '.drift == false'
grep -q -- "-m $here/m.model -\$" args || fail "drift program got: $(cat args)"
same twenty.csv stdin

# both reports are in the history, newest last; metrics show the last
req GET /drift/reports; want 200; jqok '(.reports | length) == 2 and .reports[0].drift == true and .reports[1].drift == false'
req GET /metrics
grep -q '^churn_drift_detected{model_version="vX"} 0$' body || fail "metrics: $(grep drift body)"

# limits and failures
echo slow >mode
req POST /drift/check -H "$auth"; want 504; jqok '.error | test("no answer within")'
echo big >mode
stop_serve
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --drift-cmd "$here/fake-drift" \
    --drift-output-limit 100000
req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @twenty.csv; want 502
jqok '.error | test("larger than")'
echo bad >mode
req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @twenty.csv; want 422
jqok '.error | test("is not a number")'
echo nojson >mode
req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @twenty.csv; want 502
jqok '.error | test("no JSON report")'
req POST /drift/check -H "$auth" -H 'Content-Type: image/png' --data-binary @twenty.csv; want 415

# the real churn-drift, when it is built
if command -v churn-drift >/dev/null; then
	stop_serve
	CHURN_ADMIN_TOKEN=tok start_serve --model m.model --state-dir st2
	churn-gen --rows 400 --seed 5 --shift -o shifted.csv || fail "churn-gen --shift failed"
	req POST /predict -H 'Content-Type: text/csv' --data-binary @shifted.csv; want 200
	req POST /drift/check -H "$auth"; want 200
	jqok '(.drift | type) == "boolean" and (.features | length) > 10 and .rows.current == 400'
	req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @m.model.csv; want 200
	jqok '.drift == false'
else
	echo "note: churn-drift is not built; checked with a stand-in only"
fi
echo ok
