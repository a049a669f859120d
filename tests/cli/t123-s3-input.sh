#!/bin/sh
# churn-predict and churn-drift read s3://bucket/key inputs, streamed:
# the same answers as from the file; a missing object or a refusal is
# trouble (exit 2) with a message naming it
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

[ -n "${CHURN_TEST_S3_ENDPOINT:-}" ] ||
    skip "no S3 test server: CHURN_TEST_S3_ENDPOINT unset (tests/run starts it; by hand: scripts/services up DIR && . DIR/env)"
unset CHURN_DATABASE_URL
CHURN_S3_ENDPOINT=$CHURN_TEST_S3_ENDPOINT
test_db=t123_$$
export CHURN_S3_ENDPOINT

churn-gen --rows 20000 --seed 11 -o d.csv || fail "churn-gen failed"
churn-train -q --trees 5 -o m.churn d.csv >/dev/null || fail "churn-train failed"
s3 PUT "$(s3_url data/d.csv)" d.csv >/dev/null || fail "cannot PUT the data"
url=s3://$CHURN_TEST_S3_BUCKET/$test_db/data/d.csv

expect 0 churn-predict -m m.churn d.csv
cp out want.csv
expect 0 churn-predict -m m.churn "$url"
same want.csv out
[ -s err ] && fail "stderr: $(cat err)"
expect 0 churn-predict -m m.churn --jobs 1 "$url"
same want.csv out

churn-drift -m m.churn d.csv >a.json || [ $? -eq 1 ] || fail "churn-drift on the file failed"
churn-drift -m m.churn "$url" >b.json 2>err || [ $? -eq 1 ] || { cat err >&2; fail "churn-drift on $url failed"; }
sed 's/"time":"[^"]*"//' a.json >a2.json
sed 's/"time":"[^"]*"//' b.json >b2.json
same a2.json b2.json

expect 2 churn-predict -m m.churn "s3://$CHURN_TEST_S3_BUCKET/$test_db/data/none.csv"
grep_err "open s3://$CHURN_TEST_S3_BUCKET/$test_db/data/none.csv: no such object"
[ -s out ] && fail "output for a missing object"
expect 2 churn-drift -m m.churn "s3://$CHURN_TEST_S3_BUCKET/$test_db/data/none.csv"
grep_err "no such object"
expect 2 env AWS_SECRET_ACCESS_KEY=wrong churn-predict -m m.churn "$url"
grep_err "refused"
expect 2 env -u CHURN_S3_ENDPOINT churn-predict -m m.churn "$url"
grep_err "no s3 endpoint given"
exit 0
