# The Jenkinsfile's stages: an explicit checkout, then stage-build,
# stage-test, and exactly the scripts scripts/pipeline runs (and the
# end-to-end test t6000 exercises) with stage-deploy after stage-env, in
# that order, one a stage, and nothing else.
. "$CHURN_TOP/tests/lib.sh"
export CHURN_PIPELINE_DIR="$PWD/state" CHURN_ENV_FILE="$PWD/.env"
jf=$CHURN_TOP/Jenkinsfile
[ -f "$jf" ] || fail "no Jenkinsfile"

"$CHURN_TOP/scripts/pipeline" --list >life || fail "scripts/pipeline --list failed"
[ "$(wc -l <life)" -eq 8 ] || fail "scripts/pipeline --list: $(wc -l <life) stages, not 8"
{ printf 'scripts/stage-build\nscripts/stage-test\n'; sed '/stage-env$/a scripts/stage-deploy' life; } >want
grep -qx 'scripts/stage-deploy' want || fail "no stage-env in scripts/pipeline --list"

# Inside `stages { }`: the sh steps, and the number of stage( ) blocks.
awk '
	/^    stages \{/ { in_stages = 1; next }
	in_stages && /^    \}/ { in_stages = 0 }
	in_stages && /stage\(/ { stages++ }
	in_stages && /sh / { print }
	END { print stages > "nstages" }
' "$jf" >sh-lines
[ -s sh-lines ] || fail "no sh steps found inside stages { } of the Jenkinsfile"
sed -n "s/^ *sh '\\([^']*\\)' *\$/\\1/p" sh-lines >got
[ "$(wc -l <got)" -eq "$(wc -l <sh-lines)" ] ||
	fail "a sh step in stages is not a plain call of one script: $(cat sh-lines)"
same want got
[ "$(cat nstages)" -eq "$(($(wc -l <want) + 1))" ] ||
	fail "$(cat nstages) stages in the Jenkinsfile for $(wc -l <want) scripts and the checkout"
# the checkout is explicit, the first stage, and the default one is off
awk '/^    stages \{/ { s = 1 } s && /stage\(/ { print; exit }' "$jf" | grep -q "stage('Checkout')" ||
	fail "the first stage is not Checkout"
grep -q '^ *checkout scm$' "$jf" || fail "no explicit 'checkout scm'"
grep -q 'skipDefaultCheckout()' "$jf" || fail "the implicit checkout is not turned off (skipDefaultCheckout)"
# nothing but those calls (and their credentials) inside stages { }
sed -n '/^    stages {/,/^    }/p' "$jf" | sed '1d;$d' |
	grep -vE '^ *(//.*)?$|^ *(stage\(.*\) \{|steps \{|\}|checkout scm|sh '\''scripts/stage-[a-z]+'\'')$' |
	grep -vE '^ *(withCredentials\(\[|usernamePassword\(.*|usernameVariable.*|string\(.*|\]\) \{)$' >other || true
[ -s other ] && fail "steps other than the stage scripts inside stages: $(cat other)"

# every script named exists, is executable and answers --help
while read -r s; do
	[ -x "$CHURN_TOP/$s" ] || fail "$s: not an executable script"
	"$CHURN_TOP/$s" --help >help 2>&1 || fail "$s --help failed"
	grep -q "$(basename "$s")" help || fail "$s --help does not name the script"
done <want

# the trigger, the credentials and the artifacts the issue asks for
grep -q 'githubPush()' "$jf" || fail "no githubPush() trigger"
grep -q 'withCredentials' "$jf" || fail "no withCredentials"
grep -q "archiveArtifacts artifacts: 'var/pipeline/\*.json'" "$jf" || fail "drift report and summary not archived"
awk '/failure \{/,/\}/' "$jf" | grep -q "sh 'scripts/stage-services down'" || fail "no cleanup on failure"
exit 0
