#!/bin/sh
# the real Telco data: default flags give a holdout ROC-AUC of at least 0.83
. "$CHURN_TOP/tests/lib.sh"
need_telco

expect 0 churn-train -o telco.churn "$CHURN_TELCO"
auc=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open("out"))["metrics"]["roc_auc"])')
echo "Telco holdout ROC-AUC $auc"
/usr/bin/python3 -c "import sys; sys.exit(0 if $auc >= 0.83 else 1)" || fail "ROC-AUC $auc < 0.83"
# every customer scored, the ids of the file
expect 0 churn-predict -m telco.churn "$CHURN_TELCO"
[ "$(wc -l < out)" -eq 7044 ] || fail "rows: $(wc -l < out)"
[ "$(sed -n 2p out | cut -d, -f1)" = "7590-VHVEG" ] || fail "first id"

# as the issue measures it: default flags on 80% of the file, churn-predict
# on the other 20%, ROC-AUC by an evaluator that shares no code with churn
# (three stratified splits)
for seed in 1 2 3; do
	/usr/bin/python3 "$CHURN_TOP/tests/cli/split_eval.py" split "$CHURN_TELCO" $seed train.csv test.csv ||
		fail "split"
	expect 0 churn-train --holdout 0 -o split.churn train.csv
	expect 0 churn-predict -m split.churn test.csv
	mv out scores.csv
	auc=$(/usr/bin/python3 "$CHURN_TOP/tests/cli/split_eval.py" auc test.csv scores.csv) || fail "auc"
	echo "split $seed: independent holdout ROC-AUC $auc"
	/usr/bin/python3 -c "import sys; sys.exit(0 if $auc >= 0.84 else 1)" || fail "split $seed: ROC-AUC $auc < 0.84"
done
exit 0
