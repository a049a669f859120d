#!/bin/sh
# churn-models compare and scripts/stage-promote on a shadow rollout with
# simulated outcomes: too little data waits; a challenger the outcomes
# favour is promoted; a worse one is rolled back; the alias history shows
# both with their reasons and numbers
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 1500 1
sleep 1
model b.model 1500 2
sleep 1
model c.model 1500 3
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json) vc=$(jq -r .version c.model.json)
churn-push --init --alias champion a.model >/dev/null || fail "churn-push a failed"
churn-push --alias challenger b.model >/dev/null || fail "churn-push b failed"
churn-push c.model >/dev/null || fail "churn-push c failed"
churn-gen --rows 2000 --seed 9 -o cust.csv || fail "churn-gen failed"
python3 - <<'PY' || fail "cannot write the customers"
import csv, json
rows = list(csv.DictReader(open("cust.csv")))
for i, r in enumerate(rows):
    r["customerID"] = "k%d" % i
    del r["Churn"]
json.dump(rows, open("cust.json", "w"))
PY
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600 --window-rows 100000
auth='Authorization: Bearer tok'
CHURN_ENV_FILE=/dev/null CHURN_PIPELINE_DIR=$PWD/pipe CHURN_API_URL=$URL CHURN_ADMIN_TOKEN=tok
CHURN_PROMOTE_WINDOW=$PWD/st/window.jsonl CHURN_OUTCOMES=$PWD/outcomes.csv
CHURN_PROMOTE_MIN_ROWS=1000 CHURN_PROMOTE_MIN_LABELLED=500
export CHURN_ENV_FILE CHURN_PIPELINE_DIR CHURN_API_URL CHURN_ADMIN_TOKEN CHURN_PROMOTE_WINDOW
export CHURN_OUTCOMES CHURN_PROMOTE_MIN_ROWS CHURN_PROMOTE_MIN_LABELLED
promote() { "$CHURN_TOP/scripts/stage-promote" >promote.out 2>&1 || { cat promote.out >&2; fail "stage-promote exited $?"; }; cat promote.out; }
wait_rows() {
	i=0
	while [ "$(jq -c "select(.challenger_version == \"$1\")" st/window.jsonl 2>/dev/null | wc -l)" -lt "$2" ] &&
		[ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
# outcomes that follow one version's scores (with a few flipped): FIELD
outcomes_by() {
	jq -r "select(.challenger_version == \"$2\") | [.customerID, (if .$1 >= 0.35 then 1 else 0 end)] | @csv" \
		st/window.jsonl | tr -d '"' | awk -F, 'BEGIN { print "id,outcome" } { if (NR % 50 == 0) $2 = 1 - $2; print $1 "," $2 }' >outcomes.csv
}

# no rollout: nothing to decide
promote; grep -q "no rollout on" promote.out || fail "stage-promote without a rollout: $(cat promote.out)"

# shadow b; no outcomes yet: wait, numbers printed
churn-models rollout set challenger --shadow --reason "t587 b" >/dev/null || fail "rollout set failed"
req POST /reload -H "$auth"; want 200
req POST /predict -H 'Content-Type: application/json' --data-binary @cust.json; want 200
wait_rows "$vb" 2000
printf 'id,outcome\n' >outcomes.csv
promote; grep -q "^promote: wait: champion $va .*(0 labelled), challenger $vb" promote.out || fail "no wait: $(cat promote.out)"

# outcomes that favour b: promoted
outcomes_by challenger_probability "$vb"
churn-models compare --window st/window.jsonl --outcomes outcomes.csv >cmp.txt || fail "compare failed"
cat cmp.txt
grep -q "^champion .*$va *2000 *2000 " cmp.txt || fail "compare table: $(cat cmp.txt)"
churn-models compare --window st/window.jsonl --outcomes outcomes.csv --json >cmp.json || fail "compare --json failed"
jq -e '.versions[1].roc_auc > .versions[0].roc_auc and (.roc_auc_diff_ci | length) == 2
	and .roc_auc_diff_ci[0] <= .roc_auc_diff and .roc_auc_diff <= .roc_auc_diff_ci[1]
	and .versions[0].labelled == 2000 and (.psi | type) == "number"' cmp.json >/dev/null ||
	fail "compare --json: $(cat cmp.json)"
promote; grep -q "^promote: promoted $vb to champion: " promote.out || fail "not promoted: $(cat promote.out)"
[ "$(churn-models rollout show --json | jq -r .mode)" = off ] || fail "the rollout is still on"
req GET /health; want 200; jqok '.model_version == "'"$vb"'"'

# c, shadowing b, and outcomes that follow b: rolled back
churn-models alias set challenger "$vc" >/dev/null || fail "alias set failed"
churn-models rollout set challenger --shadow --reason "t587 c" >/dev/null || fail "rollout set failed"
req POST /reload -H "$auth"; want 200
req POST /predict -H 'Content-Type: application/json' --data-binary @cust.json; want 200
wait_rows "$vc" 2000
outcomes_by churn_probability "$vc"
promote; grep -q "^promote: rolled back $vc, champion stays $vb: " promote.out || fail "not rolled back: $(cat promote.out)"
[ "$(churn-models rollout show --json | jq -r .mode)" = off ] || fail "the rollout is still on"
req GET /health; want 200; jqok '.model_version == "'"$vb"'"'

churn-models history --json >h.json || fail "history failed"
jq -e '[.history[] | select(.action == "rollout" and (.reason | startswith("promote '"$vb"': champion '"$va"' auc")))] | length == 1' h.json >/dev/null ||
	fail "the history lacks the promotion with its numbers"
jq -e '[.history[] | select(.action == "rollout" and (.reason | startswith("rollback '"$vc"'")))] | length == 1' h.json >/dev/null ||
	fail "the history lacks the rollback"
jq -e '[.history[] | select(.alias == "champion" and .action == "set" and .version == "'"$vb"'")] | length == 1' h.json >/dev/null ||
	fail "the history lacks the champion's move"

# the pipeline: stage-retrain with CHURN_ROLLOUT publishes a challenger and
# starts a canary; stage-verify accepts either version; stage-promote waits
CHURN_FORCE_RETRAIN=1 CHURN_TRAIN_DATA=$PWD/a.model.csv CHURN_TRAIN_FLAGS="--trees 5 --seed 4" \
	CHURN_ROLLOUT=canary:50 "$CHURN_TOP/scripts/stage-retrain" >retrain.out 2>&1 ||
	{ cat retrain.out >&2; fail "stage-retrain failed"; }
vd=$(sed -n 's/^version=//p' pipe/retrain.status)
grep -qx retrained=rollout pipe/retrain.status || fail "retrain.status: $(cat pipe/retrain.status)"
churn-models rollout show --json >ro.json
jq -e '.mode == "canary" and .share == 50 and .challenger_version == "'"$vd"'"
	and (.reason | startswith("retrained '"$vd"'"))' ro.json >/dev/null || fail "rollout after retrain: $(cat ro.json)"
[ "$(churn-models show champion | jq -r .version)" = "$vb" ] || fail "stage-retrain moved champion"
req POST /reload -H "$auth"; want 200
"$CHURN_TOP/scripts/stage-verify" >verify.out 2>&1 || { cat verify.out >&2; fail "stage-verify failed under a canary"; }
promote; grep -q "^promote: wait: " promote.out || fail "no wait right after the retrain: $(cat promote.out)"
exit 0
