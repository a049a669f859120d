# No decisions on too little data (issue 12, point 6, the pipeline's part):
#   a) a fresh deployment: the API's window is empty, no outcomes: the
#      pipeline passes its drift stage saying there is nothing to judge yet;
#   b) a window of a few live rows (POST /drift/check): "insufficient", no
#      retrain, exit 0, the reason printed; the same with churn-drift
#      (CHURN_DRIFT_MODE=cli), and CHURN_DRIFT_MIN_ROWS lowers the bar, for
#      churn-drift and for churn-serve (--drift-option from stage-services);
#   c) the performance check under CHURN_PERF_MIN_ROWS labelled customers:
#      insufficient, no decision; over it, a verdict.
# No PostgreSQL or S3: a file:// store (CHURN_SERVICES=none).
. "$CHURN_TOP/tests/lib.sh"
for p in churn-gen churn-train churn-push churn-models churn-drift churn-serve churn-outcomes; do
	command -v $p >/dev/null 2>&1 || skip "$p is not built yet (the pipeline needs every program)"
done
for t in curl jq; do
	command -v $t >/dev/null 2>&1 || skip "$t is not installed (scripts/install-deps)"
done
cleanup() {
	st=$?
	"$CHURN_TOP/scripts/stage-services" down >/dev/null 2>&1
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
unset SOURCE_DATE_EPOCH CHURN_DATABASE_URL CHURN_S3_ENDPOINT CHURN_STORE CHURN_ADMIN_TOKEN CHURN_WEBHOOK_SECRET \
	CHURN_AUC_MARGIN CHURN_FORCE_RETRAIN CHURN_VERIFY_CUSTOMER CHURN_CURRENT_DATA CHURN_ROLLOUT \
	CHURN_DRIFT_MIN_ROWS CHURN_PERF_MIN_ROWS CHURN_PERF_MARGIN CHURN_PERF_BY CHURN_PERF_CHECK
export CHURN_SERVICES=none CHURN_SERVE=start CHURN_DRIFT_MODE=api CHURN_ALIAS=champion
export CHURN_TRAIN_FLAGS="--trees 20 --seed 2" CHURN_ENV_FILE="$PWD/.env" CHURN_PIPELINE_DIR="$PWD/state"
export CHURN_LISTEN="127.0.0.1:$port" CHURN_API_URL="http://127.0.0.1:$port"
state=$CHURN_PIPELINE_DIR
churn-gen --rows 3000 --seed 41 -o train.csv || fail "churn-gen failed"
churn-gen --rows 60 --seed 42 -o live.csv --outcomes live-o.csv || fail "churn-gen failed"
churn-gen --rows 500 --seed 43 --shift -o shifted.csv || fail "churn-gen failed"
export CHURN_TRAIN_DATA="$PWD/train.csv"

# --- a) fresh deployment ---------------------------------------------------------
"$CHURN_TOP/scripts/pipeline" >a.out 2>&1 || { cat a.out; fail "pipeline (fresh) failed"; }
cat a.out
grep -q '^--- \[4/8\] drift: ok' a.out || fail "(a): the drift stage did not pass"
grep -q 'stage-drift: nothing to judge yet: the API has scored no customers' a.out || fail "(a): no 'nothing to judge yet'"
grep -q 'stage-drift: performance of v[0-9-]*: no labelled customers yet: nothing to judge' a.out ||
	fail "(a): the performance check did not say there is nothing to judge"
grep -qx 'insufficient=yes' "$state/drift.status" && grep -qx 'retrain=no' "$state/drift.status" ||
	fail "(a): drift.status: $(cat "$state/drift.status")"
grep -qx 'retrained=no' "$state/retrain.status" || fail "(a): retrained"
export CHURN_STORE="file://$state/store"
v1=$(churn-models list --json | jq -r .aliases.champion)

# --- b) a few live rows ------------------------------------------------------------
head -n 6 live.csv >five.csv
code=$(curl -sS -o five.out -w '%{http_code}' -H 'Content-Type: text/csv' --data-binary @five.csv "$CHURN_API_URL/predict") ||
	fail "POST /predict: no answer"
[ "$code" = 200 ] || fail "POST /predict: status $code"
expect 0 "$CHURN_TOP/scripts/stage-drift"
cat err
grep_err "stage-drift: no drift decision against $v1: "
grep_err " current rows, fewer than the minimum of 100: too few to judge drift"
jq -e '.insufficient == true and .drift == false and .rows.current < 10' "$state/drift.json" >/dev/null ||
	fail "(b): report $(jq -c 'del(.features)' "$state/drift.json")"
grep -qx 'insufficient=yes' "$state/drift.status" && grep -qx 'retrain=no' "$state/drift.status" ||
	fail "(b): drift.status: $(cat "$state/drift.status")"
expect 0 "$CHURN_TOP/scripts/stage-retrain"
grep_err "stage-retrain: too few rows to judge drift, no performance decay: nothing to retrain"
grep -qx 'retrained=no' "$state/retrain.status" || fail "(b): retrained"
[ "$(churn-models list --json | jq '.versions | length')" = 1 ] || fail "(b): a version was added"

# churn-drift (cli): five shifted rows are too few; CHURN_DRIFT_MIN_ROWS=5 judges them
head -n 6 shifted.csv >five-shifted.csv
CHURN_DRIFT_MODE=cli CHURN_CURRENT_DATA="$PWD/five-shifted.csv" expect 0 "$CHURN_TOP/scripts/stage-drift"
grep_err "stage-drift: no drift decision against $v1: "
grep_err "five-shifted.csv: only 5 current rows, fewer than the minimum of 100: too few to judge drift"
grep -qx 'retrain=no' "$state/drift.status" || fail "(b cli): drift.status: $(cat "$state/drift.status")"
CHURN_DRIFT_MIN_ROWS=5 CHURN_DRIFT_MODE=cli CHURN_CURRENT_DATA="$PWD/five-shifted.csv" expect 0 "$CHURN_TOP/scripts/stage-drift"
grep_err "stage-drift: drift found against $v1"
grep -qx 'drift=yes' "$state/drift.status" && grep -qx 'insufficient=no' "$state/drift.status" &&
	grep -qx 'retrain=yes' "$state/drift.status" || fail "(b cli, min 5): drift.status: $(cat "$state/drift.status")"
grep -q '^reason=data drift: report of .* against '"$v1"', [0-9]* of 19 features drifted$' "$state/drift.status" ||
	fail "(b cli, min 5): no reason: $(cat "$state/drift.status")"
# the API: stage-services passes CHURN_DRIFT_MIN_ROWS to churn-serve
"$CHURN_TOP/scripts/stage-services" down 2>/dev/null || fail "stage-services down failed"
CHURN_DRIFT_MIN_ROWS=3 "$CHURN_TOP/scripts/stage-services" 2>err || { cat err; fail "stage-services failed"; }
CHURN_CURRENT_DATA="$PWD/five-shifted.csv" expect 0 "$CHURN_TOP/scripts/stage-drift"
grep_err "stage-drift: drift found against $v1"
jq -e '.insufficient == false and .drift == true and .rows.current == 5' "$state/drift.json" >/dev/null ||
	fail "(b api, min 3): report $(jq -c 'del(.features)' "$state/drift.json")"
"$CHURN_TOP/scripts/stage-services" down 2>/dev/null || fail "stage-services down failed"
"$CHURN_TOP/scripts/stage-services" 2>err || { cat err; fail "stage-services failed"; }

# --- c) the performance check under its minimum of labelled customers --------------
tail -n +7 live.csv | { head -n 1 live.csv; cat; } >rest.csv
code=$(curl -sS -o rest.out -w '%{http_code}' -H 'Content-Type: text/csv' --data-binary @rest.csv "$CHURN_API_URL/predict") ||
	fail "POST /predict: no answer"
[ "$code" = 200 ] || fail "POST /predict: status $code"
# their outcomes an hour on (after the predictions, whenever the log is
# written); wait for the log's writer
cut -d, -f1,2 live-o.csv >live-untimed.csv
expect 0 churn-outcomes --time "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" live-untimed.csv
i=0
until [ "$(churn-models perf --json --by all 2>/dev/null | jq '.versions[0].all.rows // 0')" = 60 ]; do
	[ $i -lt 300 ] || fail "(c): the 60 customers' outcomes are not joined: $(churn-models perf --json --by all)"
	sleep 0.2
	i=$((i + 1))
done
expect 0 "$CHURN_TOP/scripts/stage-drift"
grep_err "stage-drift: performance of $v1: insufficient: 60 labelled customers (need 200, both outcomes): no decision (live ROC-AUC "
grep -qx 'decay=no' "$state/drift.status" && grep -qx 'retrain=no' "$state/drift.status" ||
	fail "(c): drift.status: $(cat "$state/drift.status")"
jq -e '.[0].verdict == "insufficient" and .[0].rows == 60 and .[0].min_rows == 200' "$state/perf-check.json" >/dev/null ||
	fail "(c): perf-check.json: $(cat "$state/perf-check.json")"
# over the minimum: a verdict with its numbers (0.5 margin: no decay)
CHURN_PERF_MIN_ROWS=50 CHURN_PERF_MARGIN=0.5 expect 0 "$CHURN_TOP/scripts/stage-drift"
grep_err "stage-drift: performance of $v1: ok: live ROC-AUC "
grep_err " on 60 labelled customers (month "
# a margin below zero: any live ROC-AUC under the holdout's plus 1 is decay
CHURN_PERF_MIN_ROWS=50 CHURN_PERF_MARGIN=-1 expect 0 "$CHURN_TOP/scripts/stage-drift"
grep_err "stage-drift: performance DECAY of $v1: live ROC-AUC "
grep -qx 'decay=yes' "$state/drift.status" && grep -qx 'retrain=yes' "$state/drift.status" ||
	fail "(c): drift.status: $(cat "$state/drift.status")"
CHURN_PERF_MARGIN=lots expect 2 "$CHURN_TOP/scripts/stage-drift"
grep_err "CHURN_PERF_MARGIN='lots' is not a number"
CHURN_PERF_MIN_ROWS=-3 expect 2 "$CHURN_TOP/scripts/stage-drift"
grep_err "CHURN_PERF_MIN_ROWS='-3' is not a whole number"
exit 0
