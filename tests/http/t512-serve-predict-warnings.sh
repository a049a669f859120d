#!/bin/sh
# churn-serve: a category unseen in training (or a number where a category
# is expected, or text where a number is) is scored as missing, and the
# answer says so in `warnings`
# (per customer for an array); an answer without any has no `warnings`
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
customer 1 m.model.csv >one.json
start_serve --model m.model

# a known customer: no warnings key at all
req POST /predict --data-binary @one.json; want 200
jqok 'has("warnings") | not'
# an unseen category: scored as missing, with a word
jq -c '.Contract = "Biennial"' one.json >unseen.json
req POST /predict --data-binary @unseen.json; want 200
jqok '(.churn_probability | type) == "number"'
jqok '.warnings | length == 1'
jqok '.warnings[0] | test("Contract") and test("Biennial") and test("missing")'
# the same probability as the value left out
jq -c '.Contract = null' one.json >null.json
req POST /predict --data-binary @null.json; want 200
pnull=$(jq .churn_probability body)
jqok 'has("warnings") | not'
req POST /predict --data-binary @unseen.json; want 200
jqok ".churn_probability == $pnull"
# a number where a category is expected
jq -c '.Contract = 12 | .PaymentMethod = "Barter"' one.json >num.json
req POST /predict --data-binary @num.json; want 200
jqok '.warnings | length == 2'
jqok '.warnings | map(select(test("Contract") and test("12"))) | length == 1'
jqok '.warnings | map(select(test("PaymentMethod") and test("Barter"))) | length == 1'
# a numeric field that is not a number: missing, as training and
# churn-predict take it, and said
jq -c '.MonthlyCharges = null' one.json >mnull.json
req POST /predict --data-binary @mnull.json; want 200
pmnull=$(jq .churn_probability body)
jq -c '.MonthlyCharges = "lots"' one.json >lots.json
req POST /predict --data-binary @lots.json; want 200
jqok ".churn_probability == $pmnull"
jqok '.warnings | length == 1'
jqok ".warnings[0] == \"field 'MonthlyCharges': 'lots' is not a number, scored as missing\""
# with explanations too
req POST '/predict?explain=1' --data-binary @unseen.json; want 200
jqok '(.explanation | length) > 0 and (.warnings | length) == 1'
# an array: the warnings of each customer in its own answer
jq -s -c '[.[0], .[1], .[0]]' one.json unseen.json >arr.json
req POST /predict --data-binary @arr.json; want 200
jqok 'length == 3'
jqok '(.[0] | has("warnings") | not) and (.[2] | has("warnings") | not)'
jqok '.[1].warnings | length == 1 and (.[0] | test("Contract"))'
# CSV in, churn-predict's CSV out: the warning is churn-predict's stderr
# line, in a Warning header
head -4 m.model.csv | sed '3s/,Month-to-month,/,Biennial,/; 3s/,One year,/,Biennial,/; 3s/,Two year,/,Biennial,/' >unseen.csv
grep -q Biennial unseen.csv || fail "unseen.csv was not made"
req POST /predict -H 'Content-Type: text/csv' --data-binary @unseen.csv; want 200
[ "$(wc -l <body)" -eq 4 ] || fail "CSV answer: $(cat body)"
grep -qi '^warning: 299 churn-serve "1 values of categories unseen in training treated as missing (Contract: 1)"' hdr ||
    fail "no Warning header for the CSV: $(cat hdr)"
head -2 m.model.csv >known.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @known.csv; want 200
grep -qi '^warning:' hdr && fail "a Warning header without cause: $(cat hdr)"
echo ok
