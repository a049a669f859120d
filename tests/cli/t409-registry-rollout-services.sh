#!/bin/sh
# churn-models rollout against PostgreSQL: the same as t408, and the
# churn_rollouts table is append-only
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_services
rollout_scenario
n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_rollouts")
[ "$n" -eq 4 ] || fail "$n rows in churn_rollouts, not 4"
psql -X -q "$CHURN_DATABASE_URL" -c "DELETE FROM churn_rollouts" >/dev/null 2>&1 &&
	fail "churn_rollouts accepted a DELETE"
exit 0
