#!/bin/sh
# churn-drift: trouble is exit 2 with a message naming the file, line and
# column, and nothing on stdout
. "$CHURN_TOP/tests/lib.sh"

gen --rows 2000 --seed 21 -o d.csv || fail "churn-gen failed"
churn-train --trees 5 -o m.churn d.csv >/dev/null 2>&1 || fail "churn-train failed"

trouble() { # MESSAGE ARGS...
	msg=$1; shift
	expect 2 churn-drift "$@"
	grep_err "$msg"
	[ -s out ] && fail "stdout not empty after '$msg'"
	return 0
}

# a feature column missing from the header
cut -d, -f1-5,7- d.csv >nocol.csv
trouble "churn-drift: nocol.csv:1: no column 'tenure' (a feature of the model)" -m m.churn nocol.csv
# the same in a file of several blocks
gen --rows 12000 --seed 22 | cut -d, -f1-5,7- >bignocol.csv
trouble "bignocol.csv:1: no column 'tenure'" -m m.churn --jobs 2 bignocol.csv

# empty input, a header alone, stdin empty
: >empty.csv
trouble "churn-drift: empty.csv: empty file (no header)" -m m.churn empty.csv
head -n 1 d.csv >header.csv
# a header alone is too little data, not trouble (t306)
expect 0 churn-drift -m m.churn header.csv
grep_err "churn-drift: header.csv: no current rows: nothing to judge yet"
trouble "churn-drift: <stdin>: empty file (no header)" -m m.churn - </dev/null

# a corrupt model: one byte changed in the middle, a truncated one, not a model
size=$(wc -c <m.churn)
cp m.churn bad.churn
printf 'X' | dd of=bad.churn bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
cmp -s m.churn bad.churn && fail "the byte did not change"
trouble "bad.churn" -m bad.churn d.csv
head -c $((size / 3)) m.churn >short.churn
trouble "short.churn" -m short.churn d.csv
trouble "d.csv" -m d.csv d.csv

# a number that is not one, a ragged row (the line is right with threads too)
awk -F, -v OFS=, 'NR == 40 { $6 = "abc" } { print }' d.csv >nan.csv
trouble "churn-drift: nan.csv:40: column 'tenure': 'abc' is not a number" -m m.churn nan.csv
gen --rows 12000 --seed 23 | awk -F, -v OFS=, 'NR == 11000 { $6 = "x1" } { print }' >bignan.csv
trouble "churn-drift: bignan.csv:11000: column 'tenure': 'x1' is not a number" -m m.churn --jobs 2 bignan.csv
awk -F, -v OFS=, 'NR == 7 { $3 = $3 ",extra" } { print }' d.csv >ragged.csv
trouble "churn-drift: ragged.csv:7: ragged row: 22 fields, the header has 21" -m m.churn ragged.csv
printf 'a,"b\n' >quote.csv
trouble "quote.csv" -m m.churn quote.csv

# JSON lines: not JSON, a missing field, a mistyped one
printf '{"tenure": 3\n' >bad.jsonl
trouble "churn-drift: bad.jsonl:1: " -m m.churn --json-in bad.jsonl
printf '{"tenure": 3}\n' >few.jsonl
trouble "churn-drift: few.jsonl:1: no field 'gender' (a feature of the model)" -m m.churn --json-in few.jsonl
# no JSON lines at all: an empty window, nothing to judge yet (t306)
expect 0 churn-drift -m m.churn --json-in - </dev/null
grep_err "churn-drift: <stdin>: no current rows: nothing to judge yet"

# a bad config file
printf '{"psi": {"drift": "high"}}' >c1.json
trouble "churn-drift: c1.json: 'psi.drift' is not a number" -m m.churn --config c1.json d.csv
printf '{"features": {"nosuch": {"drift": 0.1}}}' >c2.json
trouble "churn-drift: c2.json: 'features.nosuch': not a feature of the model" -m m.churn --config c2.json d.csv
printf '{"bins": 10,' >c3.json
trouble "churn-drift: c3.json:1: " -m m.churn --config c3.json d.csv
exit 0
