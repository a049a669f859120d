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

# a number that is not one is missing, as churn-train and churn-predict
# take it, and said with the first line (right with threads too): the
# report is that of the same file with the cells empty
missing_same() { # FILE LINE... : FILE's first bad cell is on the first LINE
	f=$1 first=$2; shift
	awk -F, -v OFS=, -v l=" $* " 'index(l, " " NR " ") { $6 = "" } { print }' \
	    "$f" >empty.csv
	msg="$f:$first: column 'tenure': '$(awk -F, -v n="$first" 'NR == n { print $6 }' "$f")' is not a number"
	for j in 1 2; do
		churn-drift -m m.churn --jobs $j "$f" >out 2>err; rc=$?
		[ $rc -le 1 ] || { cat err >&2; fail "churn-drift $f exited $rc"; }
		grep_err "churn-drift: $msg, counted as missing ($# row"
		jq -e --arg m "$# current row" '.warnings | any(startswith($m))' out >/dev/null ||
		    fail "no warning of $# rows in the report of $f: $(cat out)"
		churn-drift -m m.churn --jobs $j empty.csv >empty.out 2>/dev/null
		[ $? -eq $rc ] || fail "$f and empty.csv: not the same exit status"
		jq -S 'del(.time, .warnings)' out >a.json
		jq -S 'del(.time, .warnings)' empty.out >b.json
		same a.json b.json
	done
	# a shard's profile carries the count and the first line
	churn-drift -m m.churn --profile-out p1.json "$f" >out 2>err || fail "--profile-out $f failed"
	grep_err "churn-drift: $msg, counted as missing"
	[ "$(jq -c '[.not_numbers.rows, .not_numbers.first_line]' p1.json)" = "[$#,$first]" ] ||
	    fail "profile of $f: $(jq -c .not_numbers p1.json)"
}
awk -F, -v OFS=, 'NR == 40 { $6 = "abc" } { print }' d.csv >nan.csv
missing_same nan.csv 40
gen --rows 12000 --seed 23 | awk -F, -v OFS=, 'NR == 11000 || NR == 11900 || NR == 3 { $6 = "x" NR } { print }' >bignan.csv
missing_same bignan.csv 3 11000 11900
# a ragged row is refused (the line is right with threads too)
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
