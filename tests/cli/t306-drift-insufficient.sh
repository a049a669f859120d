#!/bin/sh
# churn-drift below the minimum of current rows (--min-rows, default 100):
# no drift declared, exit 0, "insufficient": true and the reason in the
# report and on stderr; a header alone or no JSON lines is insufficient,
# not an error; an empty file (no header) stays exit 2
. "$CHURN_TOP/tests/lib.sh"

gen --rows 3000 --seed 61 -o train.csv || fail "churn-gen failed"
churn-train --trees 5 -o m.churn train.csv >/dev/null 2>&1 || fail "churn-train failed"
# shifted data: drift with enough rows
gen --rows 2000 --seed 62 --shift -o shift.csv || fail "churn-gen failed"
expect 1 churn-drift -m m.churn shift.csv
field() { python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
[ "$(field out 'r["drift"], r["insufficient"]')" = "(True, False)" ] || fail "2000 shifted rows: $(head -c 300 out)"

# a 5-row window of the same shifted data: no decision
head -n 6 shift.csv >five.csv
expect 0 churn-drift -m m.churn five.csv
grep_err "churn-drift: five.csv: only 5 current rows, fewer than the minimum of 100: too few to judge drift"
[ "$(field out 'r["drift"], r["insufficient"], r["min_rows"], r["rows"]["current"]')" = "(False, True, 100, 5)" ] ||
	fail "five rows: $(head -c 300 out)"
field out 'r["reason"]' | grep -q "only 5 current rows" || fail "no reason in the report"
field out 'r["rule"]' | grep -q "^insufficient data" || fail "rule: $(field out 'r["rule"]')"
# the same as JSON lines, as churn-serve's window gives them
python3 -c '
import csv, json, sys
for r in csv.DictReader(open("five.csv")): print(json.dumps(r))' >five.jsonl
expect 0 churn-drift -m m.churn --json-in five.jsonl
[ "$(field out 'r["drift"], r["insufficient"]')" = "(False, True)" ] || fail "five JSON lines: $(head -c 300 out)"

# --min-rows moves the bar (0: any number of rows is judged)
expect 1 churn-drift -m m.churn --min-rows 5 five.csv
[ "$(field out 'r["drift"], r["insufficient"]')" = "(True, False)" ] || fail "--min-rows 5: $(head -c 300 out)"
expect 0 churn-drift -m m.churn --min-rows 3000 shift.csv
grep_err "only 2000 current rows, fewer than the minimum of 3000"
expect 2 churn-drift -m m.churn --min-rows many five.csv
grep_err "--min-rows: 'many' is not a number"
expect 2 churn-drift -m m.churn --min-rows 2.5 five.csv
grep_err "--min-rows: '2.5' is not a number from 0 to"

# a header alone; no JSON lines at all (an empty window)
head -n 1 shift.csv >header.csv
expect 0 churn-drift -m m.churn header.csv
grep_err "churn-drift: header.csv: no current rows: nothing to judge yet (at least 100 are needed)"
[ "$(field out 'r["drift"], r["insufficient"], r["rows"]["current"]')" = "(False, True, 0)" ] ||
	fail "header only: $(cat out)"
expect 0 churn-drift -m m.churn --json-in - </dev/null
[ "$(field out 'r["insufficient"]')" = True ] || fail "no JSON lines: $(cat out)"
# --min-rows 0 does not make zero rows a finding either
expect 0 churn-drift -m m.churn --min-rows 0 header.csv
[ "$(field out 'r["insufficient"]')" = True ] || fail "--min-rows 0, header only: $(cat out)"
# no header at all is trouble
: >empty.csv
expect 2 churn-drift -m m.churn empty.csv
grep_err "empty.csv: empty file (no header)"

# --record keeps the insufficient report in the history
CHURN_STORE=file://$PWD/store
export CHURN_STORE
expect 0 churn-drift -m m.churn --record five.csv
expect 0 churn-models drift --json
grep -q '"insufficient": true' out || fail "the recorded report lost 'insufficient'"
exit 0
