#!/bin/sh
# churn-drift on generated data: fresh rows of the same population are not
# drift, churn-gen --shift is; values and counts check out from the data
. "$CHURN_TOP/tests/lib.sh"
py=/usr/bin/python3
[ -x $py ] || skip "no $py to recompute the report"
check="$py $CHURN_TOP/tests/cli/drift-check.py"

gen --rows 6000 --seed 11 -o train.csv || fail "churn-gen failed"
churn-train --trees 30 -o m.churn train.csv >/dev/null 2>train.err ||
	{ cat train.err >&2; fail "churn-train failed"; }

gen --rows 5000 --seed 12 -o same.csv || fail "churn-gen failed"
expect 0 churn-drift -m m.churn same.csv
mv out same.json
$check same.json same.csv train.csv || fail "report of same.csv does not check out"

gen --rows 5000 --seed 13 --shift -o shift.csv || fail "churn-gen --shift failed"
expect 1 churn-drift -m m.churn --summary shift.csv
mv out shift.json
grep -q "^drift: " err || { cat err >&2; fail "the summary lacks the rule that fired"; }
$check shift.json shift.csv train.csv || fail "report of shift.csv does not check out"
$py - shift.json <<'PY' || fail "shifted report"
import json, sys
r = json.load(open(sys.argv[1]))
t = {f["name"]: f for f in r["features"]}
assert r["drift"] is True and r["drifted"] >= 2, r["rule"]
assert t["tenure"]["status"] == "drift", t["tenure"]["value"]
assert t["Contract"]["status"] == "drift", t["Contract"]["value"]
# a younger, month-to-month base churns more: the prediction moves too
assert r["prediction"]["value"] > 0.1, r["prediction"]["value"]
PY

# the dataset rule: with a share of 0.9, two drifted features are not enough
expect 0 churn-drift -m m.churn --drift-share 0.9 shift.csv
grep -q '"rule":"no drift: [0-9]* of 19 features drifted (share [0-9.]* < drift share 0.9)"' out ||
	fail "rule: $(cat out)"
exit 0
