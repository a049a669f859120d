#!/bin/sh
# churn-drift --record: reports land in the registry's drift history (a
# file store; PostgreSQL and S3 when the test services run), newest last,
# as churn-models drift lists them; a failed record is exit 2
. "$CHURN_TOP/tests/lib.sh"
py=/usr/bin/python3
[ -x $py ] || skip "no $py to read the reports"
command -v churn-models >/dev/null || skip "no churn-models (the registry) in $CHURN_BIN"

gen --rows 2000 --seed 41 -o train.csv || fail "churn-gen failed"
churn-train --trees 5 -o m.churn train.csv >/dev/null 2>&1 || fail "churn-train failed"
gen --rows 1000 --seed 42 -o same.csv || fail "churn-gen failed"
gen --rows 1000 --seed 43 --shift -o shift.csv || fail "churn-gen failed"

# history HISTORY.json A.json B.json: the history is [A, B] (churn-models
# prints reals to 10 digits)
history() {
	$py -c 'import json, math, sys
def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(same, a, b))
    return a == b
h = json.load(open(sys.argv[1]))["reports"]
want = [json.load(open(f)) for f in sys.argv[2:]]
sys.exit(not same(h, want))' "$@" ||
		fail "history of $(grep -c '"time"' "$1") reports is not the reports recorded"
}

# recorded: record a no-drift and a drift report, then read the history
recorded() {
	expect 0 churn-drift -m m.churn --record same.csv
	mv out r1.json
	expect 1 churn-drift -m m.churn --record shift.csv
	mv out r2.json
	expect 0 churn-models drift --json
	history out r1.json r2.json
}

# a file store, by environment and by flag (the flag wins)
unset CHURN_DATABASE_URL CHURN_S3_ENDPOINT
CHURN_STORE=file://$PWD/store
export CHURN_STORE
mkdir -p store
recorded
[ -f store/registry/drift.json ] || fail "no store/registry/drift.json"
mkdir -p other
expect 0 churn-drift -m m.churn --record --store "file://$PWD/other" same.csv
[ -f other/registry/drift.json ] || fail "--store does not beat CHURN_STORE"
expect 0 churn-models drift --json
history out r1.json r2.json

# a store that cannot be written: exit 2, the report is still printed
: >notadir
expect 2 churn-drift -m m.churn --record --store "file://$PWD/notadir/x" same.csv
grep_err "churn-drift: --record: "
grep -q '"drift":false' out || fail "no report on stdout before the failed record"

# PostgreSQL and S3
if [ -f "$CHURN_TOP/tests/cli/registry-lib.sh" ] && [ -n "${CHURN_TEST_DATABASE_URL:-}" ]; then
	. "$CHURN_TOP/tests/cli/registry-lib.sh"
	use_services
	recorded
	n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_drift_reports WHERE drift") ||
		fail "cannot count the drift reports"
	[ "$n" -eq 1 ] || fail "$n drifted reports in churn_drift_reports, not 1"
else
	echo "no test services: PostgreSQL part not run"
fi
exit 0
