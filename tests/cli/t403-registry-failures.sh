#!/bin/sh
# Failures are one clear line, exit 2, and leave nothing registered: wrong
# secret key, unknown access key, missing bucket, unreachable endpoint,
# database down, wrong database password
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

train_models 1

# no servers needed: database down (a closed port) -> nothing written
use_file
CHURN_DATABASE_URL='postgresql://churn:hunter2@127.0.0.1:1/churn' \
	expect 2 churn-push --alias champion m1.churn
grep_err "cannot connect to database 127.0.0.1:1/churn"
grep -q hunter2 err && fail "the database password is in the message"
[ "$(wc -l <err)" -eq 1 ] || fail "message is not one line: $(cat err)"
[ -e store ] && fail "a push with the database down wrote to the store: $(find store -type f)"
[ -s out ] && fail "stdout not empty"

# unreachable S3 endpoint
CHURN_STORE=s3://churn-test/x CHURN_S3_ENDPOINT=http://127.0.0.1:1 \
	AWS_ACCESS_KEY_ID=k AWS_SECRET_ACCESS_KEY=s expect 2 churn-push m1.churn
grep_err "cannot reach s3 endpoint http://127.0.0.1:1 (bucket 'churn-test')"
# no endpoint, no credentials
CHURN_STORE=s3://churn-test/x expect 2 env -u CHURN_S3_ENDPOINT churn-push m1.churn
grep_err "no s3 endpoint given (set CHURN_S3_ENDPOINT or AWS_ENDPOINT_URL)"

use_services
# wrong secret key: refused, named, nothing registered
AWS_SECRET_ACCESS_KEY=not-the-secret-42 expect 2 churn-push --init --alias champion m1.churn
grep_err "s3 endpoint $CHURN_S3_ENDPOINT refused"
grep_err "SignatureDoesNotMatch"
grep -q not-the-secret-42 err && fail "the secret key is in the message"
[ "$(wc -l <err)" -eq 1 ] || fail "message is not one line: $(cat err)"
n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_model_versions")
[ "$n" -eq 0 ] || fail "$n versions registered after a refused push"
expect 0 churn-models list
[ "$(wc -l <out)" -eq 1 ] || fail "list shows versions after a refused push"

# unknown access key
AWS_ACCESS_KEY_ID=nobody expect 2 churn-push m1.churn
grep_err "refused"
grep_err "InvalidAccessKeyId"

# missing bucket: a clear message; --init creates it
bucket=nob-$test_db
bucket=$(echo "$bucket" | tr _ -)
CHURN_STORE=s3://$bucket/p expect 2 churn-push m1.churn
grep_err "bucket '$bucket' does not exist at s3 endpoint $CHURN_S3_ENDPOINT"
grep_err "churn-push --init"
CHURN_STORE=s3://$bucket/p expect 0 churn-push --init m1.churn
CHURN_STORE=s3://$bucket/p expect 0 churn-models pull "$(field version s1.json)" -o p.churn
cmp -s p.churn m1.churn || fail "pull from the new bucket differs"

# wrong database password: refused, named, no secret
url=$(echo "$CHURN_DATABASE_URL" | sed 's|//churn:[^@]*@|//churn:wrong-pw@|')
CHURN_DATABASE_URL=$url expect 2 churn-models list
grep_err "password authentication failed"
grep -q wrong-pw err && fail "the database password is in the message"
exit 0
