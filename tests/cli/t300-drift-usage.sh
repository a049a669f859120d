#!/bin/sh
# churn-drift: --help, --version, usage errors
. "$CHURN_TOP/tests/lib.sh"

expect 0 churn-drift --version
grep -qx "churn-drift [0-9][0-9.]*" out || fail "--version printed '$(cat out)'"
expect 0 churn-drift --help
grep -q "usage: churn-drift" out || fail "--help lacks the synopsis"

expect 2 churn-drift
grep_err "no model: give one with -m MODEL"
expect 2 churn-drift --no-such-option
grep_err "usage: churn-drift"
expect 2 churn-drift -m x.churn a.csv b.csv
grep_err "usage: churn-drift"
expect 2 churn-drift -m nowhere.churn data.csv
grep_err "nowhere.churn"
[ -s out ] && fail "stdout not empty after an error"

churn-gen --rows 300 --seed 5 >d.csv || fail "churn-gen failed"
churn-train --trees 5 -o m.churn d.csv >/dev/null 2>&1 || fail "churn-train failed"
expect 2 churn-drift -m m.churn --bins 1 d.csv
grep_err "--bins: '1' is not a number from 2 to 255"
expect 2 churn-drift -m m.churn --bins 2.5 d.csv
grep_err "--bins: '2.5' is not a number from 2 to 255"
expect 2 churn-drift -m m.churn --psi-threshold abc d.csv
grep_err "--psi-threshold: 'abc' is not a number"
expect 2 churn-drift -m m.churn --l1-threshold 0.3,0.1 d.csv
grep_err "--l1-threshold: warn 0.3 is above drift 0.1"
expect 2 churn-drift -m m.churn --drift-share 2 d.csv
grep_err "--drift-share: '2' is not a number from"
expect 2 churn-drift -m - - <m.churn
grep_err "cannot both be stdin"
exit 0
