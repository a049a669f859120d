# The loop over simulated months, with real PostgreSQL + S3 and the
# pipeline's own stages (issue 12's "done when"):
#   month 1: version A serves; 5,000 customers scored through POST /predict
#     (kept in the prediction log), their outcomes recorded; churn-models
#     perf and GET /performance give the ROC-AUC that a recomputation here
#     (python3 stdlib, rank sum, from the raw rows read with psql) gives, to
#     1e-9; the pipeline finds neither drift nor decay;
#   month 2: the churn relation moves (churn-gen --concept-shift), the
#     population does not: no data drift, the performance check finds the
#     decay, stage-retrain trains B on the labelled customers (a data set in
#     the store, lineage in B's manifest), B serves;
#   month 3: the same new customers scored by A and by B: B's live ROC-AUC
#     is higher (both printed).
# Customers of month 1 are scored now (the server's clock); months 2 and 3
# are recorded at later simulated times (churn-predict --record --at).
. "$CHURN_TOP/tests/lib.sh"
for p in churn-gen churn-train churn-push churn-models churn-drift churn-serve churn-predict churn-outcomes; do
	command -v $p >/dev/null 2>&1 || skip "$p is not built yet (the pipeline needs every program)"
done
for t in curl jq psql; do
	command -v $t >/dev/null 2>&1 || skip "$t is not installed (scripts/install-deps)"
done
if [ -z "${CHURN_TEST_DATABASE_URL:-}" ] || [ -z "${CHURN_TEST_S3_ENDPOINT:-}" ]; then
	skip "no test services: CHURN_TEST_DATABASE_URL or CHURN_TEST_S3_ENDPOINT unset (tests/run starts them; by hand: scripts/services up DIR && . DIR/env)"
fi

test_db=t6010_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
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
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

export CHURN_DATABASE_URL="${CHURN_TEST_DATABASE_URL%/*}/$test_db"
export CHURN_S3_ENDPOINT="$CHURN_TEST_S3_ENDPOINT"
export CHURN_STORE="s3://$CHURN_TEST_S3_BUCKET/$test_db"
export CHURN_SERVICES=external CHURN_SERVE=start CHURN_DRIFT_MODE=api CHURN_ALIAS=champion
export CHURN_LISTEN="127.0.0.1:$port" CHURN_API_URL="http://127.0.0.1:$port"
export CHURN_PIPELINE_DIR="$PWD/state" CHURN_ENV_FILE="$PWD/.env"
export CHURN_TRAIN_FLAGS="--trees 40 --seed 1"
# retrain on the newest 5,000 labelled customers (month 2's)
export CHURN_RETRAIN_SOURCE=labelled CHURN_RETRAIN_ROWS=5000
export CHURN_PERF_BY=month CHURN_PERF_MARGIN=0.03 CHURN_PERF_MIN_ROWS=200
unset CHURN_ADMIN_TOKEN CHURN_AUC_MARGIN CHURN_FORCE_RETRAIN CHURN_VERIFY_CUSTOMER CHURN_WEBHOOK_SECRET \
	CHURN_ROLLOUT CHURN_RETRAIN_DAYS CHURN_RETRAIN_WITH_TRAIN SOURCE_DATE_EPOCH
state=$CHURN_PIPELINE_DIR
pyq() { /usr/bin/python3 -c "import json, sys; r = json.load(open(sys.argv[1])); print($2)" "$1"; }

# times: month 2 and 3 start on the 3rd of the next two calendar months
first=$(date -u +%Y-%m-01)
m2=$(date -u -d "$first +1 month +2 days" +%Y-%m-%dT08:00:00Z)
m2o=$(date -u -d "$first +1 month +16 days" +%Y-%m-%dT12:00:00Z)
m3=$(date -u -d "$first +2 months +2 days" +%Y-%m-%dT08:00:00Z)
m3o=$(date -u -d "$first +2 months +2 days" +%Y-%m-%dT12:00:00Z)

churn-gen --rows 5000 --seed 31 -o train.csv || fail "churn-gen failed"
churn-gen --rows 5000 --seed 32 -o month1.csv --outcomes o1.csv --outcome-time "$(date -u -d tomorrow +%Y-%m-%d)" &&
	churn-gen --rows 5000 --seed 33 --concept-shift 1 -o month2.csv --outcomes o2.csv --outcome-time "$m2o" &&
	churn-gen --rows 5000 --seed 34 --concept-shift 1 -o month3.csv --outcomes o3.csv ||
	fail "churn-gen failed"

# --- month 1: A serves ---------------------------------------------------------
churn-train $CHURN_TRAIN_FLAGS -o A.churn train.csv >A.json 2>err || { cat err; fail "churn-train failed"; }
churn-push --init --alias champion - <A.json >pushA.json 2>err || { cat err; fail "churn-push failed"; }
A=$(jq -r .version pushA.json)
"$CHURN_TOP/scripts/stage-env" >/dev/null 2>&1 || fail "stage-env failed"
"$CHURN_TOP/scripts/stage-services" 2>err || { cat err; fail "stage-services failed"; }

# 5,000 customers through POST /predict, 1,000 a request
tail -n +2 month1.csv | split -l 1000 - part.
for f in part.*; do
	{ head -n 1 month1.csv; cat "$f"; } >"$f.csv"
	code=$(curl -sS -o "$f.out" -w '%{http_code}' --max-time 60 -H 'Content-Type: text/csv' \
		--data-binary "@$f.csv" "$CHURN_API_URL/predict") || fail "POST /predict: no answer"
	[ "$code" = 200 ] || { cat "$f.out"; fail "POST /predict: status $code"; }
done
# the log is written off the request path: wait for every row
i=0
until [ "$(psql -X -At "$CHURN_DATABASE_URL" -c 'SELECT count(*) FROM churn_predictions' 2>/dev/null)" = 5000 ]; do
	[ $i -lt 600 ] || fail "the prediction log has $(psql -X -At "$CHURN_DATABASE_URL" -c 'SELECT count(*) FROM churn_predictions') rows, not 5000"
	sleep 0.1
	i=$((i + 1))
done
expect 0 churn-outcomes o1.csv
grep_err "5000 recorded"

# live ROC-AUC: churn-models perf, GET /performance, and a recomputation from
# the raw rows (the join done again here: the latest prediction at or before
# the outcome, within 90 days; AUC by the rank sum, ties one half)
expect 0 churn-models perf --json --by all
cp out perf1.json
curl -sS --max-time 30 "$CHURN_API_URL/performance?by=all" >perf1-api.json || fail "GET /performance: no answer"
psql -X -At -F, "$CHURN_DATABASE_URL" -c "SELECT customer_id, extract(epoch FROM time), model_version, probability::text FROM churn_predictions" >preds.csv &&
	psql -X -At -F, "$CHURN_DATABASE_URL" -c "SELECT customer_id, extract(epoch FROM time), outcome::int FROM churn_outcomes" >outcomes.csv ||
	fail "psql failed"
cat >auc.py <<'PY'
import bisect, collections, csv, json, sys
preds = collections.defaultdict(list)
for cid, t, v, p in csv.reader(open(sys.argv[1])):
    preds[cid].append((float(t), v, float(p)))
rows = collections.defaultdict(list)
for cid, t, y in csv.reader(open(sys.argv[2])):
    t = float(t)
    best = None
    for pt, v, p in preds.get(cid, []):
        if t - 90 * 86400 <= pt <= t and (best is None or pt > best[0]):
            best = (pt, v, p)
    if best:
        rows[best[1]].append((best[2], int(y)))
def auc(s):
    neg = sorted(p for p, y in s if y == 0)
    pos = [p for p, y in s if y == 1]
    a = sum(bisect.bisect_left(neg, p) + 0.5 * (bisect.bisect_right(neg, p) - bisect.bisect_left(neg, p)) for p in pos)
    return a / (len(pos) * len(neg))
out = {v: {"rows": len(s), "roc_auc": auc(s)} for v, s in rows.items()}
print(json.dumps(out))
PY
/usr/bin/python3 auc.py preds.csv outcomes.csv >recomputed1.json || fail "the recomputation failed"
cat >check.py <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
for name in sys.argv[2:]:
    got = {v["model_version"]: v["all"] for v in json.load(open(name))["versions"]}
    assert set(got) == set(want), (name, list(got), list(want))
    for v, w in want.items():
        assert got[v]["rows"] == w["rows"], (name, v, got[v]["rows"], w["rows"])
        d = abs(got[v]["roc_auc"] - w["roc_auc"])
        assert d <= 1e-9, (name, v, got[v]["roc_auc"], w["roc_auc"])
        print(f"{name}: {v} rows {w['rows']} ROC-AUC {got[v]['roc_auc']:.12f}, recomputed {w['roc_auc']:.12f}, difference {d:.1e}")
PY
/usr/bin/python3 check.py recomputed1.json perf1.json perf1-api.json ||
	fail "live ROC-AUC differs from the recomputation: $(cat recomputed1.json); perf $(head -c 400 perf1.json); /performance $(head -c 400 perf1-api.json)"
[ "$(pyq recomputed1.json "r['$A']['rows']")" = 5000 ] || fail "not 5000 joined rows for $A"

# the pipeline after month 1: no drift, no decay, nothing retrained
export CHURN_CURRENT_DATA="$PWD/month1.csv"
"$CHURN_TOP/scripts/pipeline" --from drift >run1.out 2>&1 || { cat run1.out; fail "pipeline (month 1) failed"; }
cat run1.out
grep -qx 'drift=no' "$state/drift.status" || fail "(month 1): drift found"
grep -qx 'decay=no' "$state/drift.status" || fail "(month 1): decay found"
grep -q "performance of $A: ok: live ROC-AUC" run1.out || fail "(month 1): no performance verdict for $A"
grep -qx 'retrained=no' "$state/retrain.status" || fail "(month 1): retrained"

# --- month 2: the concept shifts, the population does not ------------------------
churn-models pull "$A" -o A-pulled.churn >/dev/null 2>&1 || fail "churn-models pull $A failed"
expect 0 churn-predict -m A-pulled.churn --record --at "$m2" month2.csv
expect 0 churn-outcomes o2.csv
export CHURN_CURRENT_DATA="$PWD/month2.csv"
"$CHURN_TOP/scripts/pipeline" --from drift >run2.out 2>&1 || { cat run2.out; fail "pipeline (month 2) failed"; }
cat run2.out
grep -qx 'drift=no' "$state/drift.status" || fail "(month 2): data drift found where only the concept moved: $(jq -c '[.rule, .drifted]' "$state/drift.json")"
grep -qx 'decay=yes' "$state/drift.status" || fail "(month 2): the performance check found no decay: $(cat "$state/perf-check.json")"
grep -q "performance DECAY of $A: live ROC-AUC" run2.out || fail "(month 2): no decay message"
grep -qx 'retrained=yes' "$state/retrain.status" || fail "(month 2): not retrained"
B=$(jq -r .version "$state/push.json")
[ -n "$B" ] && [ "$B" != "$A" ] || fail "(month 2): no new version ($B)"
# the data set: 5,000 labelled customers of month 2, in the store
jq -e '.labelled == 5000 and .rows == 5000 and .with_rows == 0' "$state/dataset.json" >/dev/null ||
	fail "(month 2): data set $(cat "$state/dataset.json")"
sha=$(jq -r .sha256 "$state/dataset.json")
[ "$(sha256sum <"$state/dataset.csv" | cut -c1-64)" = "$sha" ] || fail "(month 2): dataset.csv is not the data set $sha"
[ "$(jq -r .key "$state/dataset.json")" = "datasets/$sha.csv" ] || fail "(month 2): data set key $(jq -r .key "$state/dataset.json")"
curl -sS --fail --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
	-H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
	"$CHURN_S3_ENDPOINT/$CHURN_TEST_S3_BUCKET/$test_db/datasets/$sha.csv" >bucket-dataset.csv ||
	fail "(month 2): no object datasets/$sha.csv in the bucket"
cmp -s bucket-dataset.csv "$state/dataset.csv" || fail "(month 2): the bucket's data set differs"
# it holds month 2's customers with their outcomes, as churn-train reads them
# (a blank value, missing, may come back empty)
/usr/bin/python3 - "$state/dataset.csv" month2.csv <<'PY' || fail "(month 2): the data set's rows are not month 2's customers and outcomes"
import csv, sys
got = {r["customerID"]: r for r in csv.DictReader(open(sys.argv[1]))}
want = {r["customerID"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert set(got) == set(want), len(set(got) ^ set(want))
for k, w in want.items():
    for c, v in w.items():
        assert got[k][c].strip() == v.strip(), (k, c, got[k][c], v)
PY
# lineage in B's manifest
churn-models show "$B" >B-manifest.json || fail "churn-models show $B failed"
jq -e --arg a "$A" --arg s "$sha" --argjson b "$(jq .bytes "$state/dataset.json")" \
	'.lineage.parent == $a and .lineage.dataset.sha256 == $s and .lineage.dataset.rows == 5000 and
	 .lineage.dataset.bytes == $b and (.lineage.reason | test("performance check: ")) and .data.sha256 == $s' \
	B-manifest.json >/dev/null || fail "(month 2): lineage of $B: $(jq -c '[.lineage, .data]' B-manifest.json)"
echo "lineage of $B: $(jq -c .lineage B-manifest.json)"
[ "$(jq -r .model_version "$state/verify.json")" = "$B" ] || fail "(month 2): the API does not serve $B"

# --- month 3: the same new customers, scored by B (POST /predict, now) and by
# A (recorded at $m3); each outcome is recorded twice, once before A's
# prediction (it judges B's) and once after it (it judges A's) ------------------
tail -n +2 month3.csv | split -l 1000 - part3.
for f in part3.*; do
	{ head -n 1 month3.csv; cat "$f"; } >"$f.csv"
	code=$(curl -sS -o "$f.out" -w '%{http_code}' --max-time 60 -H 'Content-Type: text/csv' \
		--data-binary "@$f.csv" "$CHURN_API_URL/predict") || fail "POST /predict: no answer"
	[ "$code" = 200 ] || { cat "$f.out"; fail "POST /predict: status $code"; }
	grep -q "$A" "$f.out" && fail "month 3: POST /predict answered by $A"
done
i=0
until [ "$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_predictions WHERE model_version = '$B'" 2>/dev/null)" = 5000 ]; do
	[ $i -lt 600 ] || fail "the prediction log has not 5000 rows of $B"
	sleep 0.1
	i=$((i + 1))
done
cut -d, -f1,2 o3.csv >o3-untimed.csv # the times come from --time
expect 0 churn-outcomes --time "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" o3-untimed.csv
expect 0 churn-predict -m A-pulled.churn --record --at "$m3" month3.csv
expect 0 churn-outcomes --time "$m3o" o3-untimed.csv
expect 0 churn-models perf --json --by month
cp out perf3.json
set -- $(/usr/bin/python3 - perf3.json "$A" "$B" "$(date -u -d "$m3" +%Y-%m)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = {x["model_version"]: x for x in r["versions"]}
a = [p for p in v[sys.argv[2]]["periods"] if p["period"] == sys.argv[4]][0]
b = v[sys.argv[3]]["all"]
print(a["rows"], a["roc_auc"], b["rows"], b["roc_auc"])
PY
)
echo "month 3, the same 5000 customers: A ($A) live ROC-AUC $2 on $1 rows, B ($B) live ROC-AUC $4 on $3 rows"
[ "$1" = 5000 ] && [ "$3" = 5000 ] || fail "month 3: $1 rows of A, $3 of B, not 5000 each"
/usr/bin/python3 -c "import sys; sys.exit(not ($4 > $2))" || fail "month 3: B's live ROC-AUC $4 is not higher than A's $2"
exit 0
