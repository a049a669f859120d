#!/bin/sh
# churn-drift options: stdin, threads, JSON lines, --bins, thresholds,
# --config, --reference, new categories, --no-prediction, warnings
. "$CHURN_TOP/tests/lib.sh"
py=/usr/bin/python3
[ -x $py ] || skip "no $py to read the reports"
check="$py $CHURN_TOP/tests/cli/drift-check.py"
# notime A B: the two reports are equal but for their time
notime() {
	$py -c 'import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
a.pop("time"); b.pop("time")
sys.exit(a != b)' "$1" "$2" || fail "reports $1 and $2 differ"
}
# field FILE EXPR: a Python expression over the report r and its features t
field() {
	$py -c 'import json, sys
r = json.load(open(sys.argv[1]))
t = {f["name"]: f for f in r["features"]}
print(eval(sys.argv[2]))' "$1" "$2"
}

gen --rows 4000 --seed 31 -o train.csv || fail "churn-gen failed"
churn-train --trees 20 -o m.churn train.csv >/dev/null 2>&1 || fail "churn-train failed"
gen --rows 3000 --seed 32 -o cur.csv || fail "churn-gen failed"
expect 0 churn-drift -m m.churn cur.csv
mv out file.json

# stdin gives the same report
expect 0 churn-drift -m m.churn - <cur.csv
notime file.json out

# threads: one or two give the same report, prediction sample included
gen --rows 60000 --seed 33 -o big.csv || fail "churn-gen failed"
expect 0 churn-drift -m m.churn --jobs 1 big.csv
mv out j1.json
expect 0 churn-drift -m m.churn --jobs 2 big.csv
notime j1.json out
$check out big.csv train.csv || fail "report of big.csv does not check out"
[ "$(field out 'sum(b["cur_count"] for b in r["prediction"]["bins"]) <= 10000')" = True ] ||
	fail "the prediction sample is over 10000 rows"
[ "$(field out 'r["warnings"]')" != "[]" ] || fail "no warning of the prediction sample"
field out 'r["warnings"]' | grep -q "churn_probability: a sample of" || fail "warnings: $(field out 'r["warnings"]')"

# JSON lines: the same counts as the CSV
$py -c 'import csv, json, sys
num = {"SeniorCitizen", "tenure", "MonthlyCharges", "TotalCharges"}
for row in csv.DictReader(open(sys.argv[1])):
    o = {}
    for k, v in row.items():
        if k in num:
            o[k] = None if v.strip() == "" else float(v)
        else:
            o[k] = v
    print(json.dumps(o))' cur.csv >cur.jsonl
expect 0 churn-drift -m m.churn --json-in cur.jsonl
notime file.json out
expect 0 churn-drift -m m.churn --json-in - <cur.jsonl
notime file.json out

# --bins: at most k bins a numeric feature, values still check out
expect 0 churn-drift -m m.churn --bins 4 cur.csv
$check out cur.csv train.csv || fail "--bins 4 report does not check out"
[ "$(field out 'max(len(f["edges"]) for f in r["features"] if "edges" in f)')" = 3 ] ||
	fail "--bins 4 does not give 3 edges"
expect 0 churn-drift -m m.churn --bins 40 cur.csv
$check out cur.csv train.csv || fail "--bins 40 report does not check out"
[ "$(field out 'len(t["MonthlyCharges"]["edges"])')" -gt 30 ] || fail "--bins 40 not honoured"

# thresholds by flag
expect 1 churn-drift -m m.churn --psi-threshold 0.000001 cur.csv
[ "$(field out 't["tenure"]["threshold"], t["tenure"]["warn"], t["tenure"]["status"]')" = "(1e-06, 1e-06, 'drift')" ] ||
	fail "--psi-threshold: $(field out 't["tenure"]')"
expect 0 churn-drift -m m.churn --l1-threshold 0.05,0.5 cur.csv
[ "$(field out 't["Contract"]["warn"], t["Contract"]["threshold"]')" = "(0.05, 0.5)" ] ||
	fail "--l1-threshold"

# thresholds by config, a flag beats the file
printf '{"psi": {"warn": 0.01}, "features": {"tenure": {"drift": 0.000001}}}\n' >cfg.json
expect 1 churn-drift -m m.churn --config cfg.json cur.csv
[ "$(field out 'r["drifted"], [f["name"] for f in r["features"] if f["status"] == "drift"]')" = "(1, ['tenure'])" ] ||
	fail "--config per feature: $(field out 'r["rule"]')"
[ "$(field out 't["MonthlyCharges"]["warn"]')" = 0.01 ] || fail "--config global warn"
expect 0 churn-drift -m m.churn --config cfg.json --psi-threshold 0.3 cur.csv
[ "$(field out 't["tenure"]["threshold"]')" = 0.3 ] || fail "the flag does not beat the config"

# --reference: a file against itself is no drift at all
expect 0 churn-drift -m m.churn --reference cur.csv cur.csv
[ "$(field out 'max(f["value"] for f in r["features"]), r["prediction"]["value"], r["rows"]["reference"]')" = "(0.0, 0.0, 3000)" ] ||
	fail "--reference cur.csv against itself"
$check out cur.csv cur.csv || fail "--reference report does not check out"
expect 1 churn-drift -m m.churn --reference train.csv "$(gen --shift --rows 2000 --seed 34 -o s.csv && echo s.csv)"
$check out s.csv train.csv || fail "--reference shifted report does not check out"

# values not in the model are counted by name
awk -F, -v OFS=, 'NR > 1 && NR % 4 == 0 && $16 == "One year" { $16 = "1 year" }
	NR > 1 && NR % 50 == 0 { $2 = "Other" } { print }' cur.csv >new.csv
expect 0 churn-drift -m m.churn new.csv
[ "$(field out 't["Contract"]["new_categories"], t["gender"]["new_categories"]')" = "(['1 year'], ['Other'])" ] ||
	fail "new categories: $(field out 't["Contract"]')"
$check out new.csv train.csv || fail "report of new.csv does not check out"
field out 'r["warnings"]' | grep -q "Contract: [0-9]* current rows with values not in the reference" ||
	fail "no warning of new values"

# --no-prediction; few rows
expect 0 churn-drift -m m.churn --no-prediction cur.csv
[ "$(field out '"prediction" in r')" = False ] || fail "--no-prediction still predicts"
head -n 51 cur.csv >few.csv
churn-drift -m m.churn few.csv >out 2>err
[ $? -le 1 ] || fail "few.csv: $(cat err)"
field out 'r["warnings"]' | grep -q "only 50 current rows: PSI is unstable below 100" ||
	fail "no few-rows warning"
exit 0
