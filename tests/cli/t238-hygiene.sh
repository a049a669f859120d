#!/bin/sh
# data hygiene said out loud: id-like columns taken as the id or left out,
# a single-feature leak left out, each a warning on stderr and in the
# summary; --keep keeps a column
. "$CHURN_TOP/tests/lib.sh"

gen --rows 2000 --seed 31 -o raw.csv || fail "churn-gen failed"
# CustomerId instead of customerID, a numeric CLIENTNUM, and a leak: the
# label again as 0/1 with a little noise
awk -F, -v OFS=, 'NR == 1 { $1 = "CustomerId"; print $0, "CLIENTNUM", "after_exit_flag"; next }
	{ print $0, 700000000 + NR, ($NF == "Yes") != (NR % 401 == 0) }' raw.csv >data.csv

expect 0 churn-train -o m.churn data.csv
mv out s.json
grep_err "churn-train: warning: data.csv: column 'CustomerId' looks like an id (its name): taken as the id column"
grep_err "column 'CLIENTNUM' looks like an id (its name): not a feature"
grep_err "column 'after_exit_flag' alone separates the target (ROC-AUC 0.9"
/usr/bin/python3 - s.json <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
names = [f["name"] for f in s["features"]]
for c in ("CustomerId", "CLIENTNUM", "after_exit_flag"):
    assert c not in names, (c, names)
w = {x["column"]: x["what"] for x in s["warnings"]}
assert w == {"CustomerId": "id", "CLIENTNUM": "id", "after_exit_flag": "leak"}, w
PY
# the id is the id: churn-predict's first column
expect 0 churn-predict -m m.churn data.csv
[ "$(head -n 1 out | cut -d, -f1)" = CustomerId ] || fail "first column: $(head -n 1 out)"
expect 0 churn-predict -m m.churn --describe
grep -q '"warnings"' out || fail "the model does not keep the warnings"

# --keep: trained on as asked, no warning
expect 0 churn-train --keep after_exit_flag,CLIENTNUM -o k.churn data.csv
grep -q '"name": "after_exit_flag"' out || fail "--keep after_exit_flag not kept"
grep -q '"name": "CLIENTNUM"' out || fail "--keep CLIENTNUM not kept"
grep -q "after_exit_flag" err && fail "a kept column still warned about: $(cat err)"

# a text column unique to each row is an id too; with --id given, left out
awk -F, -v OFS=, 'NR == 1 { print $0, "email"; next } { print $0, "user" NR "@example.com" }' raw.csv >mail.csv
expect 0 churn-train --id customerID -o e.churn mail.csv
grep_err "column 'email' looks like an id (a text value unique to each row): not a feature"
# a numeric column with a few cells that are not numbers stays numeric:
# the cells are missing, the lines named; churn-predict refuses the same
# cells (the one rule: the column is numeric), or skips them with --skip-bad
awk -F, -v OFS=, 'NR == 50 || NR == 77 { $6 = "abc" } NR == 90 { $6 = "n/a" } { print }' raw.csv >bad.csv
expect 0 churn-train -o b.churn bad.csv
grep_err "churn-train: warning: bad.csv: column 'tenure': 3 cells not a number ('abc', 'n/a') at lines 50, 77, 90: left missing, the column numeric"
/usr/bin/python3 - out <<'PY' || fail "summary of bad.csv"
import json, sys
s = json.load(open(sys.argv[1]))
assert {f["name"]: f["type"] for f in s["features"]}["tenure"] == "numeric"
w = [x for x in s["warnings"] if x["column"] == "tenure"]
assert len(w) == 1 and w[0]["what"] == "not a number" and w[0]["lines"] == [50, 77, 90], w
PY
# churn-predict applies the same rule: missing, with a warning naming line
# and column; the scores are those of the cells left empty
expect 0 churn-predict -m b.churn bad.csv
grep_err "bad.csv:50: column 'tenure': 'abc' is not a number, scored as missing"
grep_err "bad.csv:90: column 'tenure': 'n/a' is not a number, scored as missing"
[ "$(wc -l <out)" -eq 2001 ] || fail "bad numbers: $(wc -l <out) lines, not 2001"
cp out bad.out
awk -F, -v OFS=, 'NR == 50 || NR == 77 || NR == 90 { $6 = "" } { print }' raw.csv >blank.csv
expect 0 churn-predict -m b.churn blank.csv
cmp -s out bad.out || fail "a bad number is not scored as a missing one"
# and so does JSON in (churn-serve's encoder)
/usr/bin/python3 - bad.csv >bad.jsonl <<'PY'
import csv, json, sys
for r in csv.DictReader(open(sys.argv[1])):
    print(json.dumps(r))
PY
expect 0 churn-predict -m b.churn --json-in bad.jsonl
grep_err "bad.jsonl:49: field 'tenure': 'abc' is not a number, scored as missing"
cut -d, -f2 out >json.p
cut -d, -f2 bad.out | tail -n +2 >csv.p
cmp -s json.p csv.p || fail "JSON in scores bad numbers otherwise"
# many such cells: the column is text, as before
awk -F, -v OFS=, 'NR > 1 && NR % 20 == 0 { $6 = "abc" } { print }' raw.csv >text.csv
expect 0 churn-train -o t.churn text.csv
grep -A1 '"name": "tenure"' out | grep -q categorical || fail "tenure with 5% text is not categorical"

# clean data: no warnings at all
expect 0 churn-train -o c.churn raw.csv
[ ! -s err ] || fail "warnings on clean data: $(cat err)"
grep -q '"warnings": \[\]' out || fail "summary warnings not empty"
exit 0
