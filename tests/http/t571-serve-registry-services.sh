#!/bin/sh
# churn-serve with the registry on PostgreSQL and the S3 test server: the
# model pulled from the bucket serves, /reload follows the alias, drift
# reports land in the database
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"
command -v psql >/dev/null || skip "psql is not installed"

use_services
# (stop_serve sets rc: keep the test's status apart)
# shellcheck disable=SC2154
trap 'status_=$?; stop_serve; (exit $status_); drop_db' EXIT
churn-gen --rows 800 --seed 3 -o d.csv || fail "churn-gen failed"
for i in 1 2; do
	SOURCE_DATE_EPOCH=$((1700000000 + i * 60)) churn-train --trees 5 --seed "$i" \
	    -o "m$i.churn" d.csv >"s$i.json" 2>train.err || { cat train.err >&2; fail "churn-train failed"; }
done
v1=$(jq -r .version s1.json) v2=$(jq -r .version s2.json)
churn-push --init --alias champion m1.churn >/dev/null || fail "churn-push m1 failed"
churn-push m2.churn >/dev/null || fail "churn-push m2 failed"
cat >fake-drift <<'SH'
#!/bin/sh
cat >/dev/null
printf '{"model_version":"vS","drift":false,"drift_share":0,"features":[]}\n'
SH
chmod +x fake-drift
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --drift-cmd "$PWD/fake-drift"

req GET /health; want 200; jqok '.model_version == "'"$v1"'"'
req GET /models; want 200
jqok '(.versions | map(.version)) == ["'"$v1"'", "'"$v2"'"] and .aliases.champion == "'"$v1"'"'
churn-models alias set champion "$v2" >/dev/null || fail "alias set failed"
req POST /reload -H "$auth"; want 200; jqok '.model_version == "'"$v2"'"'
req GET /models; want 200; jqok '(.history | length) == 2'
head -5 d.csv >four.csv
req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @four.csv; want 200
n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_drift_reports")
[ "$n" -eq 1 ] || fail "$n drift reports in the database, not 1"
req GET /drift/reports; want 200; jqok '(.reports | length) == 1 and .reports[0].model_version == "vS"'
# the server's database connection is cut: scoring goes on, and the
# registry answers again (a failed call reconnects on the next)
psql -X -q "$CHURN_TEST_DATABASE_URL" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = '$test_db' AND pid <> pg_backend_pid()" >/dev/null 2>&1
customer 1 d.csv >one.json
req POST /predict --data-binary @one.json; want 200
req GET /models
echo "first /models after the cut: $status"
[ "$status" = 200 ] || { want 502; jqok '.error | test("registry")'; req GET /models; want 200; }
jqok '.aliases.champion == "'"$v2"'"'
echo ok
