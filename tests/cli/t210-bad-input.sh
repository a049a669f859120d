#!/bin/sh
# bad input: clear messages naming file, line and column; exit 2; no crash
. "$CHURN_TOP/tests/lib.sh"

churn-gen --rows 400 --seed 1 -o good.csv

# empty file, header only, missing target column
: > empty.csv
expect 2 churn-train -o m.churn empty.csv
grep_err "churn-train: empty.csv: empty file"
head -n 1 good.csv > header.csv
expect 2 churn-train -o m.churn header.csv
grep_err "header.csv: no data rows"
expect 2 churn-train --target Exited -o m.churn good.csv
grep_err "good.csv:1: no target column 'Exited'"
[ ! -e m.churn ] || fail "a model was written after an error"

# a ragged row and an unparseable target, with their line numbers
awk 'NR == 7 { sub(/,[^,]*$/, "") } { print }' good.csv > ragged.csv
expect 2 churn-train -o m.churn ragged.csv
grep_err "ragged.csv:7: ragged row: 20 fields, the header has 21"
awk -F, -v OFS=, 'NR == 9 { $21 = "maybe" } { print }' good.csv > label.csv
expect 2 churn-train -o m.churn label.csv
grep_err "label.csv:9: column 'Churn': 'maybe' is not a label"
printf 'a,b,Churn\n1,"x\n' > quote.csv
expect 2 churn-train -o m.churn quote.csv
grep_err "quote.csv:2: malformed CSV"
expect 2 churn-train -o m.churn --numeric Contract good.csv
grep_err "good.csv:2: column 'Contract': "
grep_err "is not a number"
expect 2 churn-train -o m.churn --drop Nope good.csv
grep_err "no column 'Nope' to drop"
expect 2 churn-train -o m.churn --trees 0 good.csv
grep_err "--trees: '0' is not a number"
expect 2 churn-train --bogus
expect 2 churn-train -o m.churn no-such-file.csv
grep_err "open no-such-file.csv: No such file or directory"

expect 0 churn-train -o m.churn good.csv

# prediction: a feature column missing, a bad number (line and column), --skip-bad
cut -d, -f1-5,7- good.csv > notenure.csv
expect 2 churn-predict -m m.churn notenure.csv
grep_err "notenure.csv:1: no column 'tenure' (a feature of the model)"
# a bad number: missing, as training takes it, with a warning (line, column)
awk -F, -v OFS=, 'NR == 5 { $6 = "abc" } { print }' good.csv > badnum.csv
expect 0 churn-predict -m m.churn badnum.csv
grep_err "badnum.csv:5: column 'tenure': 'abc' is not a number, scored as missing"
[ "$(wc -l < out)" -eq 401 ] || fail "a bad number: want 400 rows and a header"
# a ragged row fails, or is skipped with --skip-bad
awk -F, -v OFS=, 'NR == 5 { print $1, $2; next } { print }' good.csv > ragged.csv
expect 2 churn-predict -m m.churn ragged.csv
grep_err "ragged.csv:5: ragged row: 2 fields"
expect 1 churn-predict -m m.churn --skip-bad ragged.csv
grep_err "ragged.csv:5: ragged row: 2 fields, the header has $(head -n 1 good.csv | tr , "\n" | wc -l) (skipped)"
grep_err "1 bad rows skipped"
[ "$(wc -l < out)" -eq 400 ] || fail "--skip-bad: want 399 rows and a header"
# a category never seen: missing, counted in one warning
awk -F, -v OFS=, 'NR == 3 || NR == 4 { $16 = "Three year" } { print }' good.csv > unseen.csv
expect 0 churn-predict -m m.churn unseen.csv
grep_err "2 values of categories unseen in training treated as missing (Contract: 2)"
expect 2 churn-predict -m m.churn --json-in good.csv
grep_err "good.csv:1: "

# corrupt models: truncated, a flipped byte, foreign, newer format, empty
head -c 100 m.churn > trunc.churn
expect 2 churn-predict -m trunc.churn good.csv
grep_err "trunc.churn: truncated model file"
/usr/bin/python3 -c "
import sys
b = bytearray(open('m.churn','rb').read()); b[len(b)//2] ^= 0x40
open('flip.churn','wb').write(b)
b = bytearray(open('m.churn','rb').read()); b[8] = 9
open('newer.churn','wb').write(b)"
expect 2 churn-predict -m flip.churn good.csv
grep_err "flip.churn: corrupt model: SHA-256 of the payload does not match"
expect 2 churn-predict -m newer.churn good.csv
grep_err "newer.churn: model format 9 is newer than this program reads (2)"
expect 2 churn-predict -m good.csv good.csv
grep_err "good.csv: not a churn model (bad magic)"
: > empty.churn
expect 2 churn-predict -m empty.churn good.csv
grep_err "empty.churn: not a churn model"
expect 2 churn-predict -m missing.churn good.csv
grep_err "open missing.churn: No such file or directory"

# a closed stdout is an error, not a silent success
if [ -w /dev/full ]; then
	churn-predict -m m.churn good.csv > /dev/full 2> err && fail "wrote to /dev/full with exit 0"
	grep_err "write <stdout>"
fi
exit 0
