#!/bin/sh
# churn-drift on the real Telco data: a random half against a model trained
# on the other half is not drift (exit 0); the same half with tenure halved
# and the contract mix moved to month-to-month is (exit 1); every value of
# both reports is recomputed from the report and the counts from the data.
. "$CHURN_TOP/tests/lib.sh"
need_telco
py=/usr/bin/python3
[ -x $py ] || skip "no $py to recompute the report"
check="$py $CHURN_TOP/tests/cli/drift-check.py"

# a random half, the same every run
awk 'BEGIN { srand(20261126) } NR == 1 { print >"a.csv"; print >"b.csv"; next }
	{ print >(rand() < 0.5 ? "a.csv" : "b.csv") }' "$CHURN_TELCO"
na=$(($(wc -l <a.csv) - 1)) nb=$(($(wc -l <b.csv) - 1))
[ "$na" -gt 3000 ] && [ "$nb" -gt 3000 ] || fail "halves of $na and $nb rows"
churn-train --seed 1 -o m.churn a.csv >train.json 2>train.err ||
	{ cat train.err >&2; fail "churn-train failed"; }

expect 0 churn-drift -m m.churn --summary b.csv
mv out same.json
grep -q '"drift":false' same.json || fail "no drift expected: $(cat same.json)"
grep -q "no drift: 0 of 19 features drifted" err || { cat err >&2; fail "summary lacks the rule"; }
grep -q "churn_probability" err || fail "summary lacks the prediction"
$check same.json b.csv a.csv || fail "report of b.csv does not check out"
$py - same.json "$nb" "$na" <<'PY' || fail "report fields"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["rows"] == {"reference": int(sys.argv[3]), "current": int(sys.argv[2])}, r["rows"]
assert r["model_version"].startswith("v") and r["time"].endswith("Z")
assert r["checked"] == 19 and r["drifted"] == 0 and r["drift_share"] == 0
t = {f["name"]: f for f in r["features"]}
assert t["tenure"]["metric"] == "psi" and len(t["tenure"]["edges"]) == 9
assert t["tenure"]["bins"][-1]["label"] == "missing" or len(t["tenure"]["bins"]) == 10
assert t["Contract"]["metric"] == "l1" and t["Contract"]["new_categories"] == []
assert t["TotalCharges"]["bins"][-1]["label"] == "missing"  # blank for tenure 0
assert r["prediction"]["name"] == "churn_probability"
for f in r["features"]:
    assert f["status"] == "ok", f["name"]
PY

# a shifted population: tenure halved, two in three customers moved to
# month-to-month contracts
awk -F, -v OFS=, 'BEGIN { srand(7) } NR > 1 {
	$6 = int($6 / 2)
	if ($16 != "Month-to-month" && rand() < 0.67) $16 = "Month-to-month"
} { print }' b.csv >shift.csv
expect 1 churn-drift -m m.churn shift.csv
mv out shift.json
grep -q '"drift":true' shift.json || fail "drift expected"
$check shift.json shift.csv a.csv || fail "report of shift.csv does not check out"
$py - shift.json <<'PY' || fail "shifted report"
import json, sys
r = json.load(open(sys.argv[1]))
t = {f["name"]: f for f in r["features"]}
assert t["tenure"]["status"] == "drift", t["tenure"]["value"]
assert t["Contract"]["status"] == "drift", t["Contract"]["value"]
assert r["rule"].startswith("drift: "), r["rule"]
assert t["gender"]["status"] == "ok"
PY
exit 0
