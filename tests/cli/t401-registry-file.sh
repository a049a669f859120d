#!/bin/sh
# churn-push, churn-models on a file:// store with its index (no servers):
# push, retry, list, alias set, pull, show, rollback, history, refusals
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

expect 0 churn-push --version
grep -qx "churn-push [0-9][0-9.]*" out || fail "--version printed '$(cat out)'"
expect 0 churn-models --help
grep -q "usage: churn-models" out || fail "--help lacks the synopsis"

use_file
scenario
[ -f store/registry/index.json ] || fail "no index in the store"
[ -f "store/models/$v1/manifest.json" ] || fail "no manifest beside the artifact"

# drift reports (as churn-drift --record leaves them without a database)
expect 0 churn-models drift
[ "$(wc -l <out)" -eq 1 ] || fail "drift lists reports in a fresh store"
cat >store/registry/drift.json <<'END'
{"reports": [
 {"model_version": "v1", "time": "2026-01-01T00:00:00Z", "drift": false, "drifted": 0, "checked": 19, "rule": "none"},
 {"model_version": "v1", "time": "2026-01-02T00:00:00Z", "drift": true, "drifted": 5, "checked": 19, "rule": "share 0.26"}]}
END
expect 0 churn-models drift
awk 'NR > 1 { print $2, $3, $4 }' out >got
printf '%s\n' "v1 no 0/19" "v1 yes 5/19" >want
same want got
expect 0 churn-models drift -n 1 --json
grep -q '"rule": "share 0.26"' out || fail "drift -n 1 --json lacks the newest report"
grep -q '"none"' out && fail "drift -n 1 --json shows more than one report"
expect 2 churn-models drift -n zero
grep_err "--count: 'zero' is not a number from 1 to 1000000"
exit 0
