#!/bin/sh
# churn-models perf: each outcome joined to the latest prediction before it
# within the horizon; per version ROC-AUC, PR-AUC, log-loss, Brier, the
# calibration table and the confusion matrix equal (to 1e-9) a
# recomputation from the raw store objects by scikit-learn (perf-check.py)
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

/usr/bin/python3 -c 'import sklearn' 2>/dev/null || skip "no scikit-learn for /usr/bin/python3"
use_file
churn-gen --rows 2000 --seed 51 -o t1.csv && churn-gen --rows 2000 --seed 52 -o t2.csv ||
	fail "churn-gen failed"
SOURCE_DATE_EPOCH=1780000000 churn-train --trees 10 --seed 1 -o m1.churn t1.csv >/dev/null 2>&1 &&
	SOURCE_DATE_EPOCH=1780000060 churn-train --trees 10 --seed 2 -o m2.churn t2.csv >/dev/null 2>&1 ||
	fail "churn-train failed"
expect 0 churn-push --init m1.churn
expect 0 churn-push m2.churn
churn-gen --rows 3000 --seed 53 -o c.csv --outcomes o.csv --outcome-time 2026-10-15 ||
	fail "churn-gen failed"
# version 1 scores everyone on 1 September, version 2 the first half again
# on 1 October
expect 0 churn-predict -m m1.churn --record --at 2026-09-01T08:00:00Z c.csv
head -n 1501 c.csv >half.csv
expect 0 churn-predict -m m2.churn --record --at 2026-10-01T08:00:00Z half.csv
expect 0 churn-outcomes o.csv
# earlier outcomes of 500 customers (before version 2 scored them), and late
# ones of 300 that only version 1 scored, 181 days before
{ echo customerID,outcome; sed -n '2,501p' o.csv | cut -d, -f1,2; } >early.csv
expect 0 churn-outcomes --time 2026-09-20T12:00:00Z early.csv
{ echo customerID,outcome; tail -n 300 o.csv | cut -d, -f1,2; } >late.csv
expect 0 churn-outcomes --time 2027-03-01 late.csv

expect 0 churn-models perf --json --by all
cp out all.json
/usr/bin/python3 "$CHURN_TOP/tests/cli/perf-check.py" store all.json 90 || fail "perf differs from the recomputation"
python3 - all.json <<'PY' || fail "the join: $(head -c 300 all.json)"
import json, sys
r = json.load(open(sys.argv[1]))
v = {x["model_version"]: x["all"]["rows"] for x in r["versions"]}
# version 2: the first 1500 on 15 October; version 1: the other 1500 on
# 15 October and the 500 early ones; the late 300 are past the horizon
assert sorted(v.values()) == [1500, 2000] and r["unjoined"] == 300, (v, r["unjoined"])
PY
expect 0 churn-models perf --json --by all --horizon 200
cp out h200.json
/usr/bin/python3 "$CHURN_TOP/tests/cli/perf-check.py" store h200.json 200 || fail "--horizon 200 differs"
grep -q '"unjoined": 0' h200.json || fail "--horizon 200 left outcomes unjoined"

# periods: by month of the prediction, by week, by day
expect 0 churn-models perf --json --by month
python3 - out <<'PY' || fail "--by month: $(head -c 300 out)"
import json, sys
r = json.load(open(sys.argv[1]))
got = {(v["model_version"], p["period"]): p["rows"] for v in r["versions"] for p in v["periods"]}
assert sorted(got.values()) == [1500, 2000] and {k[1] for k in got} == {"2026-09", "2026-10"}, got
PY
expect 0 churn-models perf --by week
grep -q ' 2026-W36 ' out && grep -q ' 2026-W40 ' out || fail "--by week: $(cat out)"
grep_err "3800 outcomes, 3500 joined to a prediction within 90 days, 300 not"
expect 2 churn-models perf --by year
grep_err "--by: 'year' is not day, week, month or all"
expect 2 churn-models perf --horizon 0
grep_err "--horizon: '0' is not a number from 1 to 36500"
exit 0
