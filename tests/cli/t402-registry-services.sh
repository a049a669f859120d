#!/bin/sh
# churn-push, churn-models against PostgreSQL and the S3 test server: the
# object in the bucket, the database row and the pulled file agree
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_services
scenario
n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_model_versions")
[ "$n" -eq 4 ] || fail "$n rows in churn_model_versions, not 4 (3 and the restamped one)"
n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_alias_history")
[ "$n" -eq 4 ] || fail "$n rows in churn_alias_history, not 4"
s3 GET "$(s3_url "models/$v1/manifest.json")" >manifest.json || fail "no manifest in the bucket"
grep -q "\"sha256\": \"$(sha_of m1.churn)\"" manifest.json || fail "manifest sha256 wrong"

# tampering with the object in the bucket: pull fails, names the version
printf 'not a model' >evil
s3 PUT "$(s3_url "models/$v2/model.churn")" evil >/dev/null || fail "cannot PUT the tampered object"
expect 2 churn-models pull "$v2" -o tampered.churn
grep_err "version $v2"
grep_err "fails verification"
[ -e tampered.churn ] && fail "a tampered pull left a file"

# drift reports from the database, oldest first
for d in false true; do
	psql -X -q "$CHURN_DATABASE_URL" -c "INSERT INTO churn_drift_reports (model_version, drift, report)
		VALUES ('$v1', $d, '{\"model_version\": \"$v1\", \"drift\": $d, \"drifted\": 1, \"checked\": 19}')" ||
		fail "cannot insert a drift report"
done
expect 0 churn-models drift
awk 'NR > 1 { print $2, $3 }' out >got
printf '%s\n' "$v1 no" "$v1 yes" >want
same want got
exit 0
