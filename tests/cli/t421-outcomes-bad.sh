#!/bin/sh
# churn-outcomes: a bad row anywhere in a file (ragged, unknown label, an
# empty, non-UTF-8, NUL-holding or over-long id, a bad time) records
# nothing from that file and names the line and the column
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_file
expect 0 churn-outcomes --help
grep -q "usage: churn-outcomes" out || fail "--help: $(cat out)"
grep -q -- "--positive" out || fail "--help lacks --positive"
expect 0 churn-outcomes --version
grep -qx "churn-outcomes [0-9][0-9.]*" out || fail "--version: $(cat out)"
expect 2 churn-outcomes --time yesterday x.csv
grep_err "--time: 'yesterday' is not a time"

good='id,outcome,time
C-1,Yes,2026-10-01
C-2,No,2026-10-01'
long=$(printf '%0257d' 0)
# bad FILE-CONTENT-LAST-ROW MESSAGE: good rows, then the bad one on line 4
bad() {
	printf '%s\n%s\n' "$good" "$1" >bad.csv
	expect 2 churn-outcomes bad.csv
	grep_err "$2"
	grep_err "nothing recorded"
	[ -d store/outcomes ] && fail "'$1': something was recorded: $(ls store/outcomes)"
	return 0
}
bad 'C-3,Yes' "bad.csv:4: ragged row: 2 fields, the header has 3"
bad 'C-3,Yes,2026-10-01,x' "bad.csv:4: ragged row: 4 fields, the header has 3"
bad 'C-3,maybe,2026-10-01' "bad.csv:4: column 'outcome': 'maybe' is not a label"
bad 'C-3,,2026-10-01' "bad.csv:4: column 'outcome': '' is not a label"
bad ',Yes,2026-10-01' "bad.csv:4: column 'id': empty id"
bad "$(printf 'C-\377\376,Yes,2026-10-01')" "bad.csv:4: column 'id': the id is not UTF-8"
bad "$(printf 'C-\300\257,Yes,2026-10-01')" "bad.csv:4: column 'id': the id is not UTF-8"
bad "$long,Yes,2026-10-01" "bad.csv:4: column 'id': the id has 257 bytes, at most 256"
bad 'C-3,Yes,2026-02-30' "bad.csv:4: column 'time': '2026-02-30' is not a time"
bad 'C-3,Yes,soon' "bad.csv:4: column 'time': 'soon' is not a time"
# 256 bytes and multi-byte UTF-8 are fine
printf '%s\n%s\n%s\n' "$good" "$(printf '%0256d' 0),Yes,2026-10-01" 'Zoë-1,No,2026-10-01' >ok.csv
expect 0 churn-outcomes --json ok.csv
grep -q '"rows":4,"positives":2,"recorded":4' out || fail "ok.csv: $(cat out)"
rm -rf store/outcomes

# JSON lines: the same rules, the line named
printf '%s\n' '{"id":"J-1","outcome":"No","time":"2026-10-01"}' \
	'{"id":"J-2","outcome":"perhaps","time":"2026-10-01"}' >bad.jsonl
expect 2 churn-outcomes bad.jsonl
grep_err "bad.jsonl:2: column 'outcome': 'perhaps' is not a label"
printf '%s\n' '{"id":"J-1","outcome":"No"}' '' '{"id":"","outcome":"No"}' >bad.jsonl
expect 2 churn-outcomes bad.jsonl
grep_err "bad.jsonl:3: column 'id': empty id"
printf '%s\n' '{"id":"J-1","outcome":"No"}' '{"id":"J-2\u0000x","outcome":"No"}' >bad.jsonl
expect 2 churn-outcomes bad.jsonl
grep_err "bad.jsonl:2: column 'id': the id holds a NUL byte"
printf '%s\n' '{"id":"J-1","outcome":"No"}' '{"id":"J-2","outcome":1.5}' >bad.jsonl
expect 2 churn-outcomes bad.jsonl
grep_err "bad.jsonl:2: key 'outcome': not a label"
printf '%s\n' '{"id":"J-1","outcome":"No"}' '{"id":7,"outcome":"No"}' >bad.jsonl
expect 2 churn-outcomes bad.jsonl
grep_err "bad.jsonl:2: key 'id': not a string"
printf '%s\n' '{"id":"J-1","outcome":"No"}' '{"id":"J-2",' >bad.jsonl
expect 2 churn-outcomes bad.jsonl
grep_err "bad.jsonl:2: column"
[ -d store/outcomes ] && fail "a bad JSON lines file recorded something"

# no id or outcome column, an empty file
printf 'customer,outcome\nC-1,Yes\n' >nocol.csv
expect 2 churn-outcomes nocol.csv
grep_err "nocol.csv:1: the header has no id column"
: >empty.csv
expect 2 churn-outcomes empty.csv
grep_err "empty.csv: empty"

# a good file after a bad one is not reached; the good one before it stays
printf '%s\n' "$good" >good.csv
printf '%s\nC-9,what,2026-10-01\n' "$good" >bad.csv
expect 2 churn-outcomes good.csv bad.csv
grep_err "good.csv: 2 rows"
grep_err "bad.csv:4: column 'outcome'"
[ "$(cat store/outcomes/*.jsonl | wc -l)" -eq 2 ] || fail "not just good.csv's rows recorded"
exit 0
