#!/bin/sh
# churn-models rollout set / off / show on a file:// store's index: ids,
# the history with who and why, refusals
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_file
rollout_scenario
grep -q '"rollouts"' store/registry/index.json || fail "no rollout events in the index"
exit 0
