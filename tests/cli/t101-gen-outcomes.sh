#!/bin/sh
# churn-gen --outcomes: the outcome of every generated customer (the Churn
# column's draw) as id,outcome,time; --concept-shift moves the churn
# relation and leaves the population as it was
. "$CHURN_TOP/tests/lib.sh"

expect 0 churn-gen --rows 4000 --seed 71 -o d.csv --outcomes o.csv --outcome-time 2026-10-01
[ "$(head -n 1 o.csv)" = "customerID,outcome,time" ] || fail "outcomes header: $(head -n 1 o.csv)"
[ "$(wc -l <o.csv)" -eq 4001 ] || fail "$(wc -l <o.csv) lines of outcomes"
tail -n +2 d.csv | awk -F, '{ print $1 "," $21 ",2026-10-01" }' >want
tail -n +2 o.csv >got
same want got
# the data are the same with or without --outcomes
churn-gen --rows 4000 --seed 71 >plain.csv || fail "churn-gen failed"
same plain.csv d.csv
# today (UTC) by default
expect 0 churn-gen --rows 3 --outcomes today.csv
[ "$(tail -n 1 today.csv | cut -d, -f3)" = "$(date -u +%Y-%m-%d)" ] || fail "default time: $(tail -n 1 today.csv)"

# concept shift: features unchanged, labels moved; a model of the old
# relation ranks the shifted customers far worse
expect 0 churn-gen --rows 4000 --seed 71 --concept-shift 1 -o s.csv --outcomes so.csv
cut -d, -f1-20 d.csv >f0 && cut -d, -f1-20 s.csv >f1
same f0 f1
cmp -s d.csv s.csv && fail "--concept-shift 1 changed no label"
churn-gen --rows 4000 --seed 72 -o train.csv || fail "churn-gen failed"
churn-train --trees 10 -o m.churn train.csv >/dev/null 2>&1 || fail "churn-train failed"
auc() {
	churn-predict -m m.churn "$1" >p.csv || fail "churn-predict $1 failed"
	/usr/bin/python3 - "$1" p.csv <<'PY'
import csv, sys
y = {r["customerID"]: r["Churn"] == "Yes" for r in csv.DictReader(open(sys.argv[1]))}
s = [(float(r["churn_probability"]), y[r["customerID"]]) for r in csv.DictReader(open(sys.argv[2]))]
pos = [p for p, t in s if t]; neg = [p for p, t in s if not t]
# Mann-Whitney, ties one half
import bisect
neg.sort()
a = sum(bisect.bisect_left(neg, p) + 0.5 * (bisect.bisect_right(neg, p) - bisect.bisect_left(neg, p)) for p in pos)
print(f"{a / (len(pos) * len(neg)):.4f} {len(pos) / len(s):.3f}")
PY
}
set -- $(auc d.csv)
a0=$1 r0=$2
set -- $(auc s.csv)
a1=$1 r1=$2
echo "ROC-AUC of the model: $a0 on the fitted relation, $a1 after --concept-shift 1; churn rates $r0, $r1"
python3 -c "import sys; sys.exit(not ($a0 > 0.75 and $a1 < 0.5))" || fail "AUC $a0 -> $a1: the concept did not move"
python3 -c "import sys; sys.exit(not (0.15 < $r1 < 0.40))" || fail "churn rate $r1 after the shift"
expect 2 churn-gen --concept-shift 2
grep_err "--concept-shift: '2' is not a number from 0 to 1"
expect 2 churn-gen --outcome-time 2026-10-01
grep_err "--outcome-time: needs --outcomes"
expect 2 churn-gen --outcomes o2.csv --outcome-time someday
grep_err "--outcome-time: 'someday' is not a time"
exit 0
