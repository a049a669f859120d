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
