#!/bin/sh
# churn-models compare, GET /rollout and scripts/stage-promote judge a
# rollout on outcomes recorded in the registry (churn-outcomes) joined to
# churn-serve's prediction log: too little data waits; a shadow challenger
# the outcomes favour is promoted (compared paired, on the same customers);
# the pipeline's retrain starts a canary, whose challenger the outcomes
# favour is promoted (two groups); a worse canary challenger is rolled
# back; the alias history shows each with its reason and numbers
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
# the same 2000 customers under three id prefixes (a group each round)
python3 - <<'PY' || fail "cannot write the customers"
import csv, json
rows = list(csv.DictReader(open("cust.csv")))
for pre in "kmn":
    part = []
    for i, r in enumerate(rows):
        r = dict(r)
        r["customerID"] = "%s%d" % (pre, i)
        del r["Churn"]
        part.append(r)
    json.dump(part, open("cust-%s.json" % pre, "w"))
    w = csv.DictWriter(open("cust-%s.csv" % pre, "w", newline=""), fieldnames=list(part[0]))
    w.writeheader()
    w.writerows(part)
PY
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600 --predlog-flush-interval 0.2
auth='Authorization: Bearer tok'
CHURN_ENV_FILE=/dev/null CHURN_PIPELINE_DIR=$PWD/pipe CHURN_API_URL=$URL CHURN_ADMIN_TOKEN=tok
CHURN_PROMOTE_MIN_ROWS=500 CHURN_PROMOTE_MIN_LABELLED=500 CHURN_RETRAIN_SOURCE=file
export CHURN_ENV_FILE CHURN_PIPELINE_DIR CHURN_API_URL CHURN_ADMIN_TOKEN
export CHURN_PROMOTE_MIN_ROWS CHURN_PROMOTE_MIN_LABELLED CHURN_RETRAIN_SOURCE
unset CHURN_PROMOTE_WINDOW CHURN_OUTCOMES
promote() { "$CHURN_TOP/scripts/stage-promote" >promote.out 2>&1 || { cat promote.out >&2; fail "stage-promote exited $?"; }; cat promote.out; }
# the prediction log's rows (segments in the store)
plog() { cat store/predictions/*/*.jsonl 2>/dev/null; }
# logged PREFIX N: N rows of customers PREFIX* are in the prediction log
logged() {
	i=0
	while [ "$(plog | jq -c "select(.id | startswith(\"$1\"))" | wc -l)" -lt "$2" ] &&
		[ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	[ $i -lt 200 ] || fail "fewer than $2 rows of $1* in the prediction log after 20 s"
}
# outcomes MODEL PREFIX DAYS: simulated outcomes of customers PREFIX*,
# following MODEL's scores (a few flipped), DAYS days from now, recorded in
# the registry with churn-outcomes
outcomes() {
	churn-predict -m "$1" "cust-$2.csv" >scores.csv || fail "churn-predict -m $1 failed"
	awk -F, -v t="$(date -u -d "+$3 days" +%F)" 'NR == 1 { print "id,outcome,time"; next }
		{ y = $2 >= 0.35 ? 1 : 0; if (NR % 50 == 0) y = 1 - y; print $1 "," y "," t }' scores.csv >outcomes.csv
	churn-outcomes outcomes.csv 2>outcomes.err || { cat outcomes.err >&2; fail "churn-outcomes failed"; }
}
# traffic PREFIX: the 2000 customers PREFIX* scored, and logged
traffic() {
	req POST /predict -H 'Content-Type: application/json' --data-binary "@cust-$1.json"; want 200
	logged "$1" 2000
}

# no rollout: nothing to decide
promote; grep -q "no rollout on" promote.out || fail "stage-promote without a rollout: $(cat promote.out)"

# shadow b; no outcomes yet: wait, numbers printed
churn-models rollout set challenger --shadow --reason "t587 b" >/dev/null || fail "rollout set failed"
req POST /reload -H "$auth"; want 200
traffic k
plog | jq -e -s '[.[] | select(.shadow_version == "'"$vb"'")] | length == 2000' >/dev/null ||
	fail "the log lacks the shadow's scores"
promote; grep -q "^promote: wait: champion $va .*(0 labelled), challenger $vb" promote.out || fail "no wait: $(cat promote.out)"

# outcomes that favour b, recorded in the registry: compared on the same
# customers (paired), promoted
outcomes b.model k 1
churn-models compare >cmp.txt || fail "compare failed"
cat cmp.txt
grep -q "^champion .*$va *2000 *2000 " cmp.txt || fail "compare table: $(cat cmp.txt)"
grep -q "paired: the same customers" cmp.txt || fail "a shadow is not compared paired: $(cat cmp.txt)"
grep -q "^verdict: promote: " cmp.txt || fail "compare's verdict: $(cat cmp.txt)"
churn-models compare --json >cmp.json || fail "compare --json failed"
jq -e '.versions[1].roc_auc > .versions[0].roc_auc and (.roc_auc_diff_ci | length) == 2
	and .roc_auc_diff_ci[0] <= .roc_auc_diff and .roc_auc_diff <= .roc_auc_diff_ci[1]
	and .versions[0].labelled == 2000 and .versions[1].labelled == 2000 and .paired
	and .mode == "shadow" and .joined == 2000 and (.psi | type) == "number"
	and .verdict == "promote" and .rule.min_rows == 500' cmp.json >/dev/null ||
	fail "compare --json: $(cat cmp.json)"
# GET /rollout gives the same comparison and verdict
req GET /rollout; want 200
jqok '.comparison.verdict == "promote" and .comparison.paired and .comparison.versions[1].labelled == 2000'
promote; grep -q "^promote: promoted $vb to champion: .*, paired" promote.out || fail "not promoted: $(cat promote.out)"
[ "$(churn-models rollout show --json | jq -r .mode)" = off ] || fail "the rollout is still on"
req GET /health; want 200; jqok '.model_version == "'"$vb"'"'

# the pipeline: stage-retrain with CHURN_ROLLOUT publishes a challenger and
# starts a canary; stage-verify accepts either version; stage-promote waits,
# then (outcomes that favour it, two groups of customers) promotes it
CHURN_FORCE_RETRAIN=1 CHURN_TRAIN_DATA=$PWD/a.model.csv CHURN_TRAIN_FLAGS="--trees 5 --seed 4" \
	CHURN_ROLLOUT=canary:50 "$CHURN_TOP/scripts/stage-retrain" >retrain.out 2>&1 ||
	{ cat retrain.out >&2; fail "stage-retrain failed"; }
vd=$(sed -n 's/^version=//p' pipe/retrain.status)
grep -qx retrained=rollout pipe/retrain.status || fail "retrain.status: $(cat pipe/retrain.status)"
churn-models rollout show --json >ro.json
jq -e '.mode == "canary" and .share == 50 and .challenger_version == "'"$vd"'"
	and (.reason | startswith("retrained '"$vd"'"))' ro.json >/dev/null || fail "rollout after retrain: $(cat ro.json)"
[ "$(churn-models show champion | jq -r .version)" = "$vb" ] || fail "stage-retrain moved champion"
churn-models pull "$vd" -o d.model >/dev/null || fail "cannot pull $vd"
req POST /reload -H "$auth"; want 200
"$CHURN_TOP/scripts/stage-verify" >verify.out 2>&1 || { cat verify.out >&2; fail "stage-verify failed under a canary"; }
promote; grep -q "^promote: wait: " promote.out || fail "no wait right after the retrain: $(cat promote.out)"
traffic m
outcomes d.model m 2
churn-models compare --json >cmp2.json || fail "compare --json failed"
jq -e '(.paired | not) and .mode == "canary" and .versions[0].rows + .versions[1].rows == 2000
	and .versions[0].labelled == .versions[0].rows and .versions[1].labelled == .versions[1].rows
	and .versions[1].rows > 800 and .versions[1].rows < 1200' cmp2.json >/dev/null ||
	fail "canary compare: $(cat cmp2.json)"
promote; grep -q "^promote: promoted $vd to champion: .*, two groups" promote.out || fail "not promoted: $(cat promote.out)"
req GET /health; want 200; jqok '.model_version == "'"$vd"'"'

# c in a canary against d, outcomes that follow d: rolled back
churn-models alias set challenger "$vc" >/dev/null || fail "alias set failed"
churn-models rollout set challenger --canary 50 --reason "t587 c" >/dev/null || fail "rollout set failed"
req POST /reload -H "$auth"; want 200
traffic n
outcomes d.model n 3
promote; grep -q "^promote: rolled back $vc, champion stays $vd: " promote.out || fail "not rolled back: $(cat promote.out)"
[ "$(churn-models rollout show --json | jq -r .mode)" = off ] || fail "the rollout is still on"
req GET /health; want 200; jqok '.model_version == "'"$vd"'"'

churn-models history --json >h.json || fail "history failed"
jq -e '[.history[] | select(.action == "rollout" and (.reason | startswith("promote '"$vb"': champion '"$va"' auc")))] | length == 1' h.json >/dev/null ||
	fail "the history lacks the shadow's promotion with its numbers"
jq -e '[.history[] | select(.action == "rollout" and (.reason | startswith("promote '"$vd"': champion '"$vb"' auc")))] | length == 1' h.json >/dev/null ||
	fail "the history lacks the canary's promotion with its numbers"
jq -e '[.history[] | select(.action == "rollout" and (.reason | startswith("rollback '"$vc"': champion '"$vd"' auc")))] | length == 1' h.json >/dev/null ||
	fail "the history lacks the rollback"
jq -e '[.history[] | select(.alias == "champion" and .action == "set" and .version == "'"$vb"'")] | length == 1' h.json >/dev/null ||
	fail "the history lacks the champion's move"
churn-models history | grep -E "rollout .* by .*: (promote|rollback) " || fail "the history table lacks the reasons"
exit 0
