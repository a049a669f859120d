#!/bin/sh
# churn-serve: /predict gives churn-predict's probabilities, row for row
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model 2000 7
churn-gen --rows 300 --seed 99 -o new.csv || fail "churn-gen failed"
start_serve --model m.model

# CSV in, CSV out: the same bytes as churn-predict
churn-predict -m m.model new.csv >want.csv || fail "churn-predict failed"
req POST /predict -H 'Content-Type: text/csv' --data-binary @new.csv; want 200
same want.csv body

# JSON: one customer per request equals churn-predict --json-in --json
for n in 1 2 3 50 150 300; do customer $n new.csv; done >rows.jsonl
churn-predict -m m.model --json-in --json rows.jsonl >want.jsonl || fail "churn-predict --json-in failed"
: >got.jsonl
while read -r row; do
	printf '%s\n' "$row" >row.json
	req POST /predict --data-binary @row.json; want 200
	jq -c . body >>got.jsonl
done <rows.jsonl
jq -c . want.jsonl >want.c.jsonl
same want.c.jsonl got.jsonl

# an array gives the same answers in order
jq -s -c . rows.jsonl >arr.json
req POST /predict --data-binary @arr.json; want 200
jq -c '.[]' body >got2.jsonl
same want.c.jsonl got2.jsonl

# the real Telco data, when present
if [ -r "$CHURN_TELCO" ]; then
	churn-train -o t.model --trees 30 "$CHURN_TELCO" >/dev/null 2>&1 || fail "churn-train on Telco failed"
	stop_serve
	start_serve --model t.model
	head -1001 "$CHURN_TELCO" >t.csv
	churn-predict -m t.model t.csv >want.t.csv || fail "churn-predict failed"
	req POST /predict -H 'Content-Type: text/csv' --data-binary @t.csv; want 200
	same want.t.csv body
else
	echo "note: no Telco data at $CHURN_TELCO; generated data only"
fi
echo ok
