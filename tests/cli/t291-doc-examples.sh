#!/bin/sh
# every example of README.md and of the man pages runs and exits as its text
# says.  tests/doc-examples.py tells what an example is, how a document notes
# an exit status other than 0 (README: a trailing `# exit N` comment; man
# pages: a `.\" exit N` line before the command), the hidden fixture steps
# (`.\" run: CMD`) and the short list of what cannot run here, with why.
# It uses tests/run's PostgreSQL and S3 for the docs' MinIO and PostgreSQL
# (without them those examples are skipped, and say so).
. "$CHURN_TOP/tests/lib.sh"

command -v mandoc >/dev/null || fail "mandoc is not installed (scripts/install-deps)"
command -v jq >/dev/null || fail "jq is not installed (scripts/install-deps)"
command -v curl >/dev/null || fail "curl is not installed (scripts/install-deps)"
command -v openssl >/dev/null || fail "openssl is not installed (scripts/install-deps: ca-certificates)"
[ -x /usr/bin/python3 ] || fail "/usr/bin/python3 is not installed (scripts/install-deps)"

/usr/bin/python3 "$CHURN_TOP/tests/doc-examples.py" "$PWD" \
	"$CHURN_TOP/README.md" "$CHURN_TOP"/man/*.[157] ||
	fail "an example does not do what its text says (logs in $PWD/*/examples.log)"
exit 0
