#!/bin/sh
# outcomes and the prediction log with PostgreSQL + S3 (tables
# churn_outcomes, churn_predictions; ON CONFLICT DO NOTHING), and on S3
# without a database (append-only objects found by listing the bucket):
# recording the same file twice changes nothing, a bad file nothing at all
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_services
churn-gen --rows 300 --seed 42 -o d.csv --outcomes o.csv --outcome-time 2026-10-20 ||
	fail "churn-gen failed"
SOURCE_DATE_EPOCH=1780000000 churn-train --trees 5 -o m.churn d.csv >/dev/null 2>&1 ||
	fail "churn-train failed"
head -n 201 d.csv >scored.csv
printf 'id,outcome,time\nC-1,Yes,2026-10-01\nC-2,yes?,2026-10-01\n' >bad.csv

q() { psql -X -At "$CHURN_DATABASE_URL" -c "$1"; }

# one load, then the same again: counts and the table agree
check_loads() {
	expect 0 churn-outcomes --json o.csv
	grep -q '"rows":300,.*"recorded":300,"duplicates":0,"unmatched":100' out ||
		fail "$1: first load: $(cat out)"
	expect 0 churn-outcomes --json o.csv
	grep -q '"rows":300,.*"recorded":0,"duplicates":300,"unmatched":100' out ||
		fail "$1: second load: $(cat out)"
	expect 2 churn-outcomes bad.csv
	grep_err "bad.csv:3: column 'outcome': 'yes?' is not a label"
	expect 0 churn-models perf --json --by month
	python3 - out <<'PY' || fail "$1: perf: $(head -c 400 out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["outcomes"], r["joined"], r["unjoined"]) == (300, 200, 100), r
(v,) = r["versions"]
assert [p["period"] for p in v["periods"]] == ["2026-10"], v["periods"]
assert v["all"]["rows"] == 200 and 0 < v["all"]["roc_auc"] <= 1, v["all"]
PY
}

# --- PostgreSQL + S3 ---
expect 0 churn-push --init m.churn
expect 0 churn-predict -m m.churn --record --at 2026-10-01T09:00:00Z scored.csv
[ "$(q 'SELECT count(*) FROM churn_predictions')" -eq 200 ] || fail "predictions not in the table"
[ "$(q "SELECT count(*) FROM churn_predictions WHERE features->>'tenure' IS NOT NULL")" -eq 200 ] ||
	fail "the features are not kept"
check_loads database
[ "$(q 'SELECT count(*) FROM churn_outcomes')" -eq 300 ] || fail "not 300 rows in churn_outcomes"
[ "$(q 'SELECT count(*) FROM churn_outcomes WHERE outcome')" -eq "$(grep -c ',Yes,' o.csv)" ] ||
	fail "churned customers in churn_outcomes differ from o.csv"
s3 GET "$CHURN_S3_ENDPOINT/$CHURN_TEST_S3_BUCKET?list-type=2&prefix=$test_db%2Foutcomes" >list.xml ||
	fail "cannot list the bucket"
grep -q '<Key>' list.xml && fail "outcomes went to the bucket with a database configured"
# retention: rows older than the given days go
expect 0 churn-predict -m m.churn --record --at 2026-01-01 --retain 100 scored.csv
[ "$(q 'SELECT count(*) FROM churn_predictions')" -eq 200 ] || fail "--retain 100 kept rows from January"

# --- S3 without a database ---
unset CHURN_DATABASE_URL
CHURN_STORE=s3://$CHURN_TEST_S3_BUCKET/$test_db-nodb
expect 0 churn-push --init m.churn
expect 0 churn-predict -m m.churn --record --at 2026-10-01T09:00:00Z scored.csv
check_loads s3
s3 GET "$CHURN_S3_ENDPOINT/$CHURN_TEST_S3_BUCKET?list-type=2&prefix=$test_db-nodb%2Foutcomes%2F" >list.xml ||
	fail "cannot list the bucket"
[ "$(grep -o '<Key>[^<]*</Key>' list.xml | wc -l)" -eq 1 ] || fail "not one outcome object: $(cat list.xml)"
s3 GET "$CHURN_S3_ENDPOINT/$CHURN_TEST_S3_BUCKET?list-type=2&prefix=$test_db-nodb%2Fpredictions%2F2026-10-01%2F" >list.xml ||
	fail "cannot list the bucket"
[ "$(grep -o '<Key>[^<]*</Key>' list.xml | wc -l)" -eq 1 ] || fail "not one prediction segment: $(cat list.xml)"
exit 0
