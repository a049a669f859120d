# End to end: scripts/pipeline (the scripts the Jenkinsfile runs) against
# real services: PostgreSQL and the S3 server of scripts/services (started by
# tests/run), and a churn-serve that stage-services starts.
#   a) current data like the training data: no drift, no retrain, the same
#      version served;
#   b) shifted data (churn-gen --shift): drift, retrain, a new version pushed
#      and the alias moved, reload, the final prediction from the new version;
#   c) the quality gate refusing a model: published as challenger, stage fails;
#   d) a signed GitHub push event to churn-serve's /hooks/github runs the
#      pipeline again, under pipeline-cron's lock (CI without Jenkins).
# After each, the registry, the object in the bucket and GET /model agree.
. "$CHURN_TOP/tests/lib.sh"
for p in churn-gen churn-train churn-push churn-models churn-drift churn-serve; do
	command -v $p >/dev/null 2>&1 || skip "$p is not built yet (the pipeline needs every program)"
done
for t in curl jq psql sha256sum openssl; do
	command -v $t >/dev/null 2>&1 || skip "$t is not installed (scripts/install-deps)"
done
if [ -z "${CHURN_TEST_DATABASE_URL:-}" ] || [ -z "${CHURN_TEST_S3_ENDPOINT:-}" ]; then
	skip "no test services: CHURN_TEST_DATABASE_URL or CHURN_TEST_S3_ENDPOINT unset (tests/run starts them; by hand: scripts/services up DIR && . DIR/env)"
fi

# A database and a bucket prefix of its own; everything stopped at the end.
test_db=t6000_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
cleanup() {
	st=$?
	"$CHURN_TOP/scripts/stage-services" down >/dev/null 2>&1
	psql -X -q "$CHURN_TEST_DATABASE_URL" -c "DROP DATABASE IF EXISTS $test_db WITH (FORCE)" >/dev/null 2>&1
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
psql -X -q "$CHURN_TEST_DATABASE_URL" -c "CREATE DATABASE $test_db" >/dev/null ||
	fail "cannot create database $test_db"
bucket=$CHURN_TEST_S3_BUCKET
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The configuration a Jenkins job or cron would have (stage-env writes .env).
export CHURN_DATABASE_URL="${CHURN_TEST_DATABASE_URL%/*}/$test_db"
export CHURN_S3_ENDPOINT="$CHURN_TEST_S3_ENDPOINT"
export CHURN_STORE="s3://$bucket/$test_db"
export CHURN_SERVICES=external CHURN_SERVE=start CHURN_DRIFT_MODE=api CHURN_ALIAS=champion
export CHURN_LISTEN="127.0.0.1:$port" CHURN_API_URL="http://127.0.0.1:$port"
export CHURN_PIPELINE_DIR="$PWD/state" CHURN_ENV_FILE="$PWD/.env"
export CHURN_TRAIN_FLAGS="--trees 40 --seed 1"
export CHURN_WEBHOOK_SECRET="hook-$test_db"
unset CHURN_ADMIN_TOKEN CHURN_AUC_MARGIN CHURN_FORCE_RETRAIN CHURN_VERIFY_CUSTOMER
state=$CHURN_PIPELINE_DIR

churn-gen --rows 4000 --seed 11 -o train.csv || fail "churn-gen failed"
churn-gen --rows 3000 --seed 12 -o current.csv || fail "churn-gen failed"
churn-gen --rows 4000 --seed 13 --shift -o shifted.csv || fail "churn-gen --shift failed"

# The first deployment, by hand: a champion from the training data.
SOURCE_DATE_EPOCH=1700000000 churn-train $CHURN_TRAIN_FLAGS -o v1.churn train.csv >v1.json 2>err ||
	{ cat err; fail "churn-train failed"; }
churn-push --init --alias champion - <v1.json >push1.json 2>err || { cat err; fail "churn-push failed"; }
v1=$(jq -r .version push1.json)
[ -n "$v1" ] || fail "churn-push printed no version"
unset SOURCE_DATE_EPOCH # retrained models are named by the time of training

api() { curl -sS --max-time 10 "$CHURN_API_URL$1"; }
# s3get KEY: the object under this test's prefix, to stdout
s3get() {
	curl -sS --fail --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
		"$CHURN_S3_ENDPOINT/$bucket/$test_db/$1"
}

# agree VERSION NVERSIONS: the registry, the bucket and the API agree that
# the alias names VERSION, among NVERSIONS registered versions
agree() {
	churn-models list --json >models.json 2>err || { cat err; fail "churn-models list failed"; }
	[ "$(jq -r '.aliases.champion' models.json)" = "$1" ] ||
		fail "registry: champion is $(jq -r .aliases.champion models.json), not $1"
	[ "$(jq '.versions | length' models.json)" -eq "$2" ] ||
		fail "registry: $(jq '.versions | length' models.json) versions, not $2"
	reg_sha=$(jq -r --arg v "$1" '.versions[] | select(.version == $v) | .sha256' models.json)
	jq -e --arg v "$1" '.versions[] | select(.version == $v) | .aliases | index("champion")' models.json >/dev/null ||
		fail "registry: $1 does not list the alias champion"
	s3get "models/$1/model.churn" >bucket.churn || fail "bucket: no object models/$1/model.churn"
	[ "$(sha256sum <bucket.churn | cut -d' ' -f1)" = "$reg_sha" ] ||
		fail "bucket object of $1 has sha256 $(sha256sum <bucket.churn | cut -c1-64), registry says $reg_sha"
	s3get "models/$1/manifest.json" >manifest.json || fail "bucket: no manifest of $1"
	[ "$(jq -r .version manifest.json)" = "$1" ] || fail "bucket manifest names $(jq -r .version manifest.json)"
	churn-models pull champion -o pulled.churn >pull.json 2>err || { cat err; fail "churn-models pull champion failed"; }
	cmp -s pulled.churn bucket.churn || fail "the pulled champion differs from the bucket's object"
	api /model >model.json || fail "GET /model: no answer"
	[ "$(jq -r .version model.json)" = "$1" ] || fail "GET /model: version $(jq -r .version model.json), not $1"
	churn-predict -m bucket.churn --describe >describe.json || fail "churn-predict --describe failed"
	[ "$(jq -r .sha256 model.json)" = "$(jq -r .sha256 describe.json)" ] ||
		fail "GET /model: sha256 $(jq -r .sha256 model.json), the bucket's model has $(jq -r .sha256 describe.json)"
	api /health >health.json
	[ "$(jq -r .model_version health.json)" = "$1" ] || fail "GET /health: serving $(jq -r .model_version health.json), not $1"
}

# --- a) no drift: no retrain, the same version ----------------------------
export CHURN_TRAIN_DATA="$PWD/train.csv" CHURN_CURRENT_DATA="$PWD/current.csv"
"$CHURN_TOP/scripts/pipeline" >run-a.out 2>&1 || { cat run-a.out; fail "pipeline (a) failed"; }
cat run-a.out
for s in env services smoke drift retrain reload verify promote; do
	grep -q "^--- \[[1-8]/8\] $s: ok ([0-9.]* s)$" run-a.out || fail "(a): stage $s not reported ok"
done
[ "$(stat -c %a .env)" = 600 ] || fail ".env is not mode 600"
grep -q "^CHURN_STORE=s3://$bucket/$test_db\$" .env || fail ".env lacks the store from the environment"
jq -e '.drift == false' "$state/drift.json" >/dev/null || fail "(a): the drift report says drift: $(jq -c '[.rule, .drifted]' "$state/drift.json")"
grep -qx 'drift=no' "$state/drift.status" || fail "(a): drift.status is not drift=no"
grep -qx 'retrained=no' "$state/retrain.status" || fail "(a): retrained anyway"
[ -f "$state/push.json" ] && fail "(a): something was pushed"
[ "$(jq -r .model_version "$state/verify.json")" = "$v1" ] || fail "(a): final prediction not from $v1"
agree "$v1" 1
pid=$(cat "$state/serve.pid")
kill -0 "$pid" || fail "churn-serve is not running after the pipeline"

# --- b) drift: retrain, push, move the alias, reload, verify ----------------
export CHURN_TRAIN_DATA="$PWD/shifted.csv" CHURN_CURRENT_DATA="$PWD/shifted.csv" CHURN_AUC_MARGIN=0.5
"$CHURN_TOP/scripts/pipeline" >run-b.out 2>&1 || { cat run-b.out; fail "pipeline (b) failed"; }
cat run-b.out
jq -e '.drift == true' "$state/drift.json" >/dev/null || fail "(b): no drift found in shifted data"
[ "$(jq -r .model_version "$state/drift.json")" = "$v1" ] || fail "(b): drift checked against $(jq -r .model_version "$state/drift.json"), not $v1"
grep -qx 'retrained=yes' "$state/retrain.status" || fail "(b): not retrained"
grep -q 'quality gate passed' run-b.out || fail "(b): the quality gate did not run"
v2=$(jq -r .version "$state/push.json")
[ -n "$v2" ] && [ "$v2" != "$v1" ] || fail "(b): no new version pushed ($v2)"
[ "$(jq -r .version "$state/train.json")" = "$v2" ] || fail "(b): the pushed version is not the trained one"
[ "$(jq -r .model_version "$state/reload.json")" = "$v2" ] || fail "(b): /reload loaded $(jq -r .model_version "$state/reload.json")"
# churn-serve follows the alias by itself (at once, by NOTIFY, with PostgreSQL):
# by the time of the POST /reload it may serve v2 already
prev=$(jq -r .previous "$state/reload.json")
[ "$prev" = "$v1" ] || [ "$prev" = "$v2" ] || fail "(b): /reload replaced $prev, neither $v1 nor $v2"
[ "$(jq -r .model_version "$state/verify.json")" = "$v2" ] || fail "(b): final prediction not from $v2"
[ "$(cat "$state/serve.pid")" = "$pid" ] || fail "(b): churn-serve was restarted, not reloaded"
grep -q 'during the reload, all 200' run-b.out || fail "(b): no downtime check"
agree "$v2" 2
[ "$(sha256sum <"$state/model.churn" | cut -c1-64)" = "$(sha256sum <bucket.churn | cut -c1-64)" ] ||
	fail "(b): the bucket's object is not the model stage-retrain trained"
churn-models history champion --json >history.json || fail "churn-models history failed"
jq -e --arg v1 "$v1" --arg v2 "$v2" \
	'.history | map(select(.alias == "champion")) | last | .version == $v2 and .previous == $v1' history.json >/dev/null ||
	{ cat history.json; fail "(b): the alias move $v1 -> $v2 is not in the history"; }
api /drift/reports >reports.json
[ "$(jq '.reports | length' reports.json)" -ge 2 ] || fail "the drift checks of both runs are not recorded"
jq -e '.reports | last | .drift == true' reports.json >/dev/null || fail "the last recorded report is not the drift"

# --- c) the quality gate refuses a model that is not good enough -------------
sleep 1 # a new version name (one per second)
CHURN_FORCE_RETRAIN=1 CHURN_AUC_MARGIN=-1 expect 1 "$CHURN_TOP/scripts/stage-retrain"
grep_err "quality gate FAILED"
grep -qx 'retrained=rejected' "$state/retrain.status" || fail "(c): retrain.status is not rejected"
v3=$(jq -r .version "$state/push.json")
churn-models list --json >models.json
[ "$(jq -r .aliases.challenger models.json)" = "$v3" ] || fail "(c): the refused model is not the challenger"
[ "$(jq -r .aliases.champion models.json)" = "$v2" ] || fail "(c): the champion moved to a refused model"
"$CHURN_TOP/scripts/stage-reload" 2>err || { cat err; fail "(c): reload failed"; }
"$CHURN_TOP/scripts/stage-verify" 2>err || { cat err; fail "(c): verify failed"; }
[ "$(jq -r .model_version "$state/verify.json")" = "$v2" ] || fail "(c): no longer served by $v2"

# --- d) the webhook of churn-serve runs the pipeline -------------------------
sleep 1 # a new version name, should it retrain
printf '{"ref":"refs/heads/main","after":"%s"}' 0123456789abcdef0123456789abcdef01234567 >event.json
sig=$(openssl dgst -sha256 -hmac "$CHURN_WEBHOOK_SECRET" -r event.json | cut -d' ' -f1)
rm -f "$state/pipeline.log"
code=$(curl -sS -o hook.json -w '%{http_code}' -H 'Content-Type: application/json' \
	-H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: sha256=$sig" --data-binary @event.json \
	"$CHURN_API_URL/hooks/github") || fail "POST /hooks/github: no answer"
[ "$code" = 202 ] || { cat hook.json; fail "POST /hooks/github: status $code, not 202"; }
i=0
while ! grep -q '^pipeline-cron: pipeline exited' "$state/pipeline.log" 2>/dev/null && [ $i -lt 1200 ]; do
	sleep 0.1
	i=$((i + 1))
done
cat "$state/pipeline.log"
grep -q '^pipeline-cron: pipeline exited 0$' "$state/pipeline.log" || fail "(d): the pipeline the webhook started did not pass"
grep -q '^pipeline: all 8 stages passed' "$state/pipeline.log" || fail "(d): not every stage ran"
churn-models list --json >models.json
v4=$(jq -r .aliases.champion models.json)
agree "$v4" "$(jq '.versions | length' models.json)"
[ "$(jq -r .model_version "$state/verify.json")" = "$v4" ] || fail "(d): final prediction not from $v4"

# --- down: the server stops and its pid file goes ----------------------------
"$CHURN_TOP/scripts/stage-services" down 2>err || { cat err; fail "stage-services down failed"; }
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$pid" 2>/dev/null && fail "churn-serve still runs after stage-services down"
[ -f "$state/serve.pid" ] && fail "the pid file is left"
exit 0
