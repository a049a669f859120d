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
exit 0
