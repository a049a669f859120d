#!/bin/sh
# scripts/services: up starts PostgreSQL (password checked) and the S3 test
# server (SigV4 checked), writes DIR/env; up again is a no-op; down stops
# both and removes their data
. "$CHURN_TOP/tests/lib.sh"

svc=$CHURN_TOP/scripts/services
command -v node >/dev/null 2>&1 || skip "no node: the S3 test server needs it (scripts/install-deps)"
[ -d "$CHURN_TOP/tests/node_modules/@20minutes/s3rver" ] ||
	skip "no tests/node_modules (scripts/install-deps runs npm install there)"

d=$PWD/svc
trap '"$svc" down "$d" >/dev/null 2>&1' EXIT
"$svc" up "$d" 2>up.err || { cat up.err >&2; fail "services up failed"; }
[ -f "$d/env" ] || fail "no $d/env"
for v in CHURN_TEST_DATABASE_URL CHURN_TEST_S3_ENDPOINT CHURN_TEST_S3_BUCKET \
	AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY CHURN_TEST_PG_PID CHURN_TEST_S3_PID; do
	grep -q "^export $v=" "$d/env" || fail "$d/env lacks $v"
done
# shellcheck disable=SC1091
. "$d/env"
pgpid=$CHURN_TEST_PG_PID s3pid=$CHURN_TEST_S3_PID
grep -q "$AWS_SECRET_ACCESS_KEY" up.err && fail "up printed the secret key"

# PostgreSQL: the right password works, a wrong one does not
[ "$(psql -X -At "$CHURN_TEST_DATABASE_URL" -c 'SELECT 1')" = 1 ] || fail "cannot query PostgreSQL"
bad=$(echo "$CHURN_TEST_DATABASE_URL" | sed 's|//churn:[^@]*@|//churn:wrong@|')
psql -X -At "$bad" -c 'SELECT 1' >/dev/null 2>psql.err && fail "a wrong password was accepted"
grep -q "password authentication failed" psql.err || fail "wrong password: $(cat psql.err)"

# S3: signed requests with the right secret pass, with a wrong one fail
e3=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
code() {
	curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$AWS_ACCESS_KEY_ID:$1" -H "x-amz-content-sha256: $e3" \
		"$CHURN_TEST_S3_ENDPOINT/$CHURN_TEST_S3_BUCKET"
}
[ "$(code "$AWS_SECRET_ACCESS_KEY")" = 200 ] || fail "the bucket is not there"
[ "$(code wrong-secret)" = 403 ] || fail "a wrong secret was not refused"

# up again: the same servers
"$svc" up "$d" 2>/dev/null || fail "second up failed"
# shellcheck disable=SC1091
. "$d/env"
if [ "$CHURN_TEST_PG_PID" != "$pgpid" ] || [ "$CHURN_TEST_S3_PID" != "$s3pid" ]; then
	fail "second up started new servers"
fi

# running PID: alive and not a zombie
running() {
	case $(ps -o stat= -p "$1" 2>/dev/null) in
	Z*|'') return 1 ;;
	esac
	return 0
}
pgroot=$(cat "$d/pgroot")
"$svc" down "$d" || fail "down failed"
running "$pgpid" && fail "PostgreSQL still runs after down"
running "$s3pid" && fail "the S3 server still runs after down"
[ -e "$pgroot" ] && fail "$pgroot left behind"
[ -e "$d/env" ] && fail "$d/env left behind"
[ -e "$d/s3data" ] && fail "S3 data left behind"
"$svc" down "$d" || fail "a second down failed"
exit 0
