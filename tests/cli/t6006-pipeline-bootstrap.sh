# scripts/pipeline from nothing: no model published yet, so stage-services
# trains and publishes the first one, then starts churn-serve on it.
#   none:  no servers at all (a file:// store, the registry index in it) and
#          the drift check made by churn-drift (CHURN_DRIFT_MODE=cli);
#   local: stage-services starts its own throwaway PostgreSQL and S3 server
#          (scripts/services) and `stage-services down` stops them again.
. "$CHURN_TOP/tests/lib.sh"
for p in churn-gen churn-train churn-push churn-models churn-drift churn-serve; do
	command -v $p >/dev/null 2>&1 || skip "$p is not built yet (the pipeline needs every program)"
done
for t in curl jq psql; do
	command -v $t >/dev/null 2>&1 || skip "$t is not installed (scripts/install-deps)"
done

cleanup() {
	st=$?
	"$CHURN_TOP/scripts/stage-services" down >/dev/null 2>&1
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
unset SOURCE_DATE_EPOCH CHURN_DATABASE_URL CHURN_S3_ENDPOINT CHURN_STORE CHURN_ADMIN_TOKEN CHURN_WEBHOOK_SECRET \
	CHURN_AUC_MARGIN CHURN_FORCE_RETRAIN CHURN_VERIFY_CUSTOMER
export CHURN_SERVE=start CHURN_ALIAS=champion CHURN_TRAIN_FLAGS="--trees 20 --seed 2"
export CHURN_ENV_FILE="$PWD/.env"
churn-gen --rows 3000 --seed 21 -o train.csv || fail "churn-gen failed"
churn-gen --rows 2000 --seed 22 -o current.csv || fail "churn-gen failed"
export CHURN_TRAIN_DATA="$PWD/train.csv" CHURN_CURRENT_DATA="$PWD/current.csv"

# --- none: no servers ----------------------------------------------------------
port=$(free_port)
export CHURN_SERVICES=none CHURN_DRIFT_MODE=cli CHURN_PIPELINE_DIR="$PWD/none"
export CHURN_LISTEN="127.0.0.1:$port" CHURN_API_URL="http://127.0.0.1:$port"
"$CHURN_TOP/scripts/pipeline" >none.out 2>&1 || { cat none.out; fail "pipeline (none) failed"; }
cat none.out
grep -q "no model has alias 'champion' yet: training the first one" none.out || fail "(none): no first model trained"
v1=$(jq -r .version none/first-push.json)
[ -d none/store ] || fail "(none): no file:// store in the pipeline directory"
grep -qx "CHURN_STORE=file://$PWD/none/store" none/services.env || fail "(none): services.env does not name the store"
grep -qx 'drift=no' none/drift.status || fail "(none): drift found in data like the training data"
[ "$(jq -r .model_version none/drift.json)" = "$v1" ] || fail "(none): churn-drift did not check against $v1"
[ "$(jq -r .model_version none/verify.json)" = "$v1" ] || fail "(none): final prediction not from $v1"
CHURN_STORE=file://$PWD/none/store churn-models list --json >models.json || fail "churn-models list failed"
[ "$(jq -r .aliases.champion models.json)" = "$v1" ] || fail "(none): champion is not $v1"
"$CHURN_TOP/scripts/stage-services" down 2>err || { cat err; fail "stage-services down failed"; }
[ -f none/serve.pid ] && fail "(none): pid file left"
curl -s -o /dev/null --max-time 2 "$CHURN_API_URL/health" && fail "(none): churn-serve still answers"

# --- local: throwaway services of its own -------------------------------------
[ -x "$CHURN_TOP/scripts/services" ] || skip "scripts/services is missing (CHURN_SERVICES=local needs it); the 'none' part passed"
port=$(free_port)
export CHURN_SERVICES=local CHURN_DRIFT_MODE=api CHURN_PIPELINE_DIR="$PWD/local"
export CHURN_LISTEN="127.0.0.1:$port" CHURN_API_URL="http://127.0.0.1:$port"
"$CHURN_TOP/scripts/pipeline" >local.out 2>&1 || { cat local.out; fail "pipeline (local) failed"; }
cat local.out
grep -q 'starting throwaway PostgreSQL and S3 servers' local.out || fail "(local): no services started"
grep -q "no model has alias 'champion' yet" local.out || fail "(local): no first model trained"
v1=$(jq -r .version local/first-push.json)
[ "$(jq -r .model_version local/verify.json)" = "$v1" ] || fail "(local): final prediction not from $v1"
url=$(sed -n 's/^CHURN_DATABASE_URL=//p' local/services.env)
[ -n "$url" ] || fail "(local): no database URL in services.env"
[ "$(psql -X -At "$url" -c 'SELECT version FROM churn_model_versions')" = "$v1" ] ||
	fail "(local): the database does not hold exactly $v1"
pg_pid=$(sed -n 's/^export CHURN_TEST_PG_PID=//p' local/services/env)
kill -0 "$pg_pid" || fail "(local): PostgreSQL is not running"
"$CHURN_TOP/scripts/stage-services" down 2>err || { cat err; fail "stage-services down failed"; }
i=0
while kill -0 "$pg_pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$pg_pid" 2>/dev/null && fail "(local): PostgreSQL still runs after stage-services down"
[ -e local/services.env ] && fail "(local): services.env left behind"
exit 0
