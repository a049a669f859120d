#!/bin/sh
# t7001-ui: the web UI in headless Chromium against a real churn-serve:
# two models trained on churn-gen data and pushed to a local store (so the
# model history has versions, an alias and its history), live traffic from
# shifted data and its outcomes, then tests/browser/ui.test.js drives the
# page (all four panels, the live ROC-AUC chart, the form, a drift check from the button, no foreign request, no
# console error, < 300 KB) and saves screenshots, whose paths it prints.
if [ -n "${CHURN_TOP:-}" ]; then
	top=$CHURN_TOP
else	# run alone, not by tests/run: work in tests/out as tests/run would
	top=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
	mkdir -p "$top/tests/out/browser-t7001-ui" && cd "$top/tests/out/browser-t7001-ui" || exit 2
fi
CHURN_BIN=${CHURN_BIN:-$top/build/bin} CHURN_TOP=$top
export CHURN_BIN CHURN_TOP
# shellcheck disable=SC1091
. "$top/tests/lib.sh"

[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || skip "no node"
command -v curl >/dev/null || skip "no curl"
[ -d "$top/tests/node_modules/playwright-core" ] ||
	skip "no playwright-core in tests/node_modules (cd tests && npm install)"
for p in churn-gen churn-train churn-push churn-serve churn-drift; do
	[ -x "$CHURN_BIN/$p" ] || skip "no $p in $CHURN_BIN (make)"
done

# everything local: a file:// store and registry in this directory
unset CHURN_DATABASE_URL CHURN_S3_ENDPOINT
CHURN_STORE=file://$PWD/store
CHURN_ADMIN_TOKEN=ui-test-token-$$
export CHURN_STORE CHURN_ADMIN_TOKEN

gen --rows 2000 --seed 11 -o train1.csv || fail "churn-gen failed"
gen --rows 2000 --seed 12 -o train2.csv || fail "churn-gen failed"
gen --rows 600 --seed 13 --shift -o live.csv || fail "churn-gen --shift failed"
churn-train --target Churn --id customerID --trees 30 -o m1.churn train1.csv >t1.json ||
	fail "churn-train failed"
churn-push --alias champion m1.churn >p1.json || fail "churn-push m1 failed"
# versions are named by the second of training: make the second one later
v1=$(node -p 'require("./t1.json").version') || fail "no version in t1.json"
while [ "$(date -u +v%Y%m%d-%H%M%S)" = "$v1" ]; do sleep 0.2; done
churn-train --target Churn --id customerID --trees 30 -o m2.churn train2.csv >t2.json ||
	fail "churn-train failed"
churn-push --alias champion m2.churn >p2.json || fail "churn-push m2 failed"

port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
churn-serve --listen "127.0.0.1:$port" --model champion --state-dir "$PWD/state" \
	>serve.out 2>serve.err &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
url=http://127.0.0.1:$port
i=0
until curl -sf "$url/ready" >/dev/null 2>&1; do
	i=$((i + 1))
	kill -0 $pid 2>/dev/null || { cat serve.err >&2; fail "churn-serve exited"; }
	[ $i -le 150 ] || { cat serve.err >&2; fail "churn-serve not ready on $url"; }
	sleep 0.1
done

# live traffic for the drift window: shifted customers, scored as CSV
curl -sf -H 'Content-Type: text/csv' --data-binary @live.csv "$url/predict" >scores.csv ||
	fail "POST /predict with live.csv failed"
[ "$(wc -l <scores.csv)" -ge 600 ] || fail "POST /predict scored $(wc -l <scores.csv) lines, not 600 rows"
# their outcomes, a day on, once the prediction log has the 600 rows: the
# model panel charts the live ROC-AUC
i=0
until curl -sf "$url/metrics" | grep -q '^churn_predlog_rows_total{result="recorded"} 600$'; do
	i=$((i + 1))
	[ $i -le 150 ] || fail "the 600 scored rows did not reach the prediction log"
	sleep 0.1
done
awk -F, 'NR == 1 { print "id,outcome" } NR > 1 { print $1 "," $NF }' live.csv >outcomes.csv
curl -sf -H "Authorization: Bearer $CHURN_ADMIN_TOKEN" -H 'Content-Type: text/csv' \
	--data-binary @outcomes.csv "$url/outcomes?time=$(date -u -d tomorrow +%Y-%m-%d)" >outcomes.json ||
	fail "POST /outcomes failed"
grep -q '"rows":600' outcomes.json || fail "POST /outcomes: $(cat outcomes.json)"
# a first drift check through the API, so the page has a history to chart
curl -sf -X POST -H "Authorization: Bearer $CHURN_ADMIN_TOKEN" "$url/drift/check" >check1.json ||
	fail "POST /drift/check failed"
grep -q '"features"' check1.json || fail "POST /drift/check gave no report"

CHURN_UI_URL=$url/ CHURN_UI_SHOTS=$PWD CHURN_UI_NAME=ui \
	node "$top/tests/browser/ui.test.js" || { tail -n 20 serve.err >&2; fail "browser checks failed"; }

# the server stops cleanly, with nothing from the sanitizers (SAN=1 builds)
kill -TERM $pid
wait $pid
st=$?
trap - EXIT
[ $st -eq 0 ] || { tail -n 20 serve.err >&2; fail "churn-serve exited $st after SIGTERM"; }
if grep -E 'Sanitizer|runtime error' serve.err >&2; then fail "sanitizer report in serve.err"; fi
exit 0
