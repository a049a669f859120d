# The Jenkinsfile passes npm-groovy-lint (pinned in tests/lint/package.json)
# without errors or warnings; a broken copy is refused, so the linter
# really judges the file.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/lint/install.sh"
need_lint npm-groovy-lint
command -v java >/dev/null 2>&1 || skip "npm-groovy-lint needs java, not installed"

# --noserver: otherwise it leaves a CodeNarc server running
cp "$CHURN_TOP/Jenkinsfile" Jenkinsfile
"$lint_bin/npm-groovy-lint" --noserver --failon warning --output txt Jenkinsfile >lint.out 2>&1 ||
	{ cat lint.out; fail "npm-groovy-lint found problems in the Jenkinsfile"; }
cat lint.out

# the same linter on a Jenkinsfile with a syntax error must fail
sed 's/^    stages {$/    stages {{/' "$CHURN_TOP/Jenkinsfile" >Jenkinsfile
cmp -s Jenkinsfile "$CHURN_TOP/Jenkinsfile" && fail "could not break the copy"
"$lint_bin/npm-groovy-lint" --noserver --failon error --output txt Jenkinsfile >bad.out 2>&1 &&
	{ cat bad.out; fail "npm-groovy-lint accepted a broken Jenkinsfile"; }
exit 0
