#!/bin/sh
# any churn CSV: other columns, a 0/1 target, CRLF lines, a byte-order mark,
# quoted fields, given only --target, --id and --drop
. "$CHURN_TOP/tests/lib.sh"

# a bank's customers: churn rises with age, inactivity and few products
awk 'BEGIN {
	srand(11)
	printf "\357\273\277RowNumber,CustomerId,Surname,CreditScore,Geography,Gender,Age,Tenure,Balance,NumOfProducts,IsActiveMember,EstimatedSalary,Exited\r\n"
	split("France Spain Germany", geo, " ")
	for (i = 1; i <= 2000; i++) {
		age = 18 + int(rand() * 60); act = rand() < 0.5; np = 1 + int(rand() * 4)
		g = geo[1 + int(rand() * 3)]; bal = rand() < 0.3 ? 0 : int(rand() * 200000)
		z = -2.5 + 0.06 * (age - 40) - 1.0 * act + (np >= 3 ? 2.5 : 0) + (g == "Germany" ? 0.8 : 0)
		ex = rand() < 1 / (1 + exp(-z))
		printf "%d,%d,\"Smith, %c\",%d,%s,%s,%d,%d,%s,%d,%d,%.2f,%d\r\n", i, 15600000 + i,
		    65 + i % 26, 350 + int(rand() * 500), g, rand() < 0.5 ? "Male" : "Female",
		    age, int(rand() * 11), rand() < 0.02 ? "" : bal, np, act, rand() * 200000, ex
	}
}' > bank.csv

expect 0 churn-train --target Exited --id CustomerId --drop RowNumber,Surname -o bank.churn bank.csv
/usr/bin/python3 - out <<'PY' || fail "bank summary"
import json, sys
s = json.load(open(sys.argv[1]))
t = {f["name"]: f["type"] for f in s["features"]}
assert sorted(t) == sorted(["CreditScore", "Geography", "Gender", "Age", "Tenure", "Balance",
    "NumOfProducts", "IsActiveMember", "EstimatedSalary"]), t
assert t["Geography"] == "categorical" and t["Age"] == "numeric" and t["Balance"] == "numeric"
assert s["metrics"]["roc_auc"] > 0.75, s["metrics"]
imp = {f["name"]: f["importance"] for f in s["features"]}
assert max(imp, key=imp.get) in ("Age", "NumOfProducts"), imp
PY
expect 0 churn-predict -m bank.churn bank.csv
[ "$(head -n 1 out)" = "CustomerId,churn_probability,churn" ] || fail "header: $(head -n 1 out)"
[ "$(sed -n 2p out | cut -d, -f1)" = "15600001" ] || fail "first id: $(sed -n 2p out)"
[ "$(wc -l < out)" -eq 2001 ] || fail "rows"
# a numeric column forced categorical, and an explicit positive label
sed 's/,1\r$/,left\r/; s/,0\r$/,stayed\r/' bank.csv > labels.csv
expect 0 churn-train --target Exited --positive left --id CustomerId --drop RowNumber,Surname \
	--categorical NumOfProducts -o l.churn labels.csv
grep -q '"name": "NumOfProducts",\s*$' out || true
/usr/bin/python3 -c "
import json,sys; s=json.load(open('out'))
t={f['name']:f['type'] for f in s['features']}
assert t['NumOfProducts']=='categorical', t
assert s['metrics']['roc_auc'] > 0.75" || fail "--positive / --categorical"
exit 0
