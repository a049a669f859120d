#!/bin/sh
# POST /outcomes records outcomes with churn-outcomes' rules: a good file
# once (again: all duplicates, nothing new), JSON lines, ?positive= and
# ?time=; a bad file (ragged row, unknown label, an empty, non-UTF-8 or
# 257-byte id) is 422 naming the line and records nothing; admin token
# needed.  GET /performance equals `churn-models perf --json` on the same
# registry.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 1500 1
churn-push --init --alias champion a.model >/dev/null || fail "churn-push failed"
churn-gen --rows 400 --seed 4 -o c.csv || fail "churn-gen failed"
sed 's/,[^,]*$//' c.csv >c-nolabel.csv

auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600
metric() { curl -s "$URL/metrics" | sed -n "s/^$1 //p"; }
req POST /predict -H 'Content-Type: text/csv' --data-binary @c-nolabel.csv; want 200
i=0
while [ "$(metric 'churn_predlog_rows_total{result="recorded"}')" != 400 ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "the 400 rows did not reach the log"
	sleep 0.1
done

# outcomes: the labels of the generated customers, a month on
awk -F, 'NR == 1 { print "id,outcome" } NR > 1 { print $1 "," $NF }' c.csv >outcomes.csv
npos=$(grep -c ',Yes$' outcomes.csv)
recorded() { cat store/outcomes/*.jsonl 2>/dev/null | wc -l; }
post() { f=$1; shift; req POST "/outcomes$f" -H "$auth" "$@"; }

req POST '/outcomes?time=2030-01-01' -H 'Content-Type: text/csv' --data-binary @outcomes.csv
want 401
[ "$(recorded)" -eq 0 ] || fail "recorded without the admin token"

post '?time=2030-01-01' -H 'Content-Type: text/csv' --data-binary @outcomes.csv; want 200
jqok '.rows == 400 and .recorded == 400 and .duplicates == 0 and .unmatched == 0 and .positives == '"$npos"
[ "$(recorded)" -eq 400 ] || fail "$(recorded) outcomes in the store, not 400"
# the same file again changes nothing
post '?time=2030-01-01' -H 'Content-Type: text/csv' --data-binary @outcomes.csv; want 200
jqok '.recorded == 0 and .duplicates == 400'
[ "$(recorded)" -eq 400 ] || fail "the second post recorded rows"
# without ?time= today's date: new keys
post '' -H 'Content-Type: text/csv' --data-binary @outcomes.csv; want 200
jqok '.recorded == 400'

# JSON lines, an id never scored, ?positive=
printf '%s\n' '{"id":"never-scored","outcome":"gone","time":"2030-02-01"}' \
    "{\"id\":\"$(sed -n 2p c.csv | cut -d, -f1)\",\"outcome\":\"stayed\",\"time\":\"2030-02-01\"}" >o.jsonl
post '?positive=gone' -H 'Content-Type: application/x-ndjson' --data-binary @o.jsonl; want 200
jqok '.recorded == 2 and .unmatched == 1 and .positives == 1'
before=$(recorded)

# bad files: 422 naming the line (and the column), nothing recorded
bad() {
	printf "$2" >bad.csv
	post '?time=2030-03-01' -H 'Content-Type: text/csv' --data-binary @bad.csv; want 422
	jqok '.error | test("request body:'"$1"'")'
	[ "$(recorded)" -eq "$before" ] || fail "a bad file recorded rows: $(cat body)"
}
bad '3:' 'id,outcome\nok1,Yes\nok2,No,extra\n'
bad "3: column 'outcome'" 'id,outcome\nok1,Yes\nok2,Maybe\n'
bad "4: column 'id'" 'id,outcome\nok1,Yes\nok2,No\n,Yes\n'
bad "2: column 'id'" 'id,outcome\ncaf\351,Yes\nok2,No\n'
long=$(head -c 257 /dev/zero | tr '\0' x)
bad "3: column 'id'" "id,outcome\nok1,Yes\n$long,No\n"
post '?time=yesterday' -H 'Content-Type: text/csv' --data-binary @outcomes.csv; want 400
post '?positive=' -H 'Content-Type: text/csv' --data-binary @outcomes.csv; want 400
post '' -H 'Content-Type: image/png' --data-binary @outcomes.csv; want 415

# /performance is churn-models perf --json on the same registry
for q in 'by=week&horizon=36500' 'by=all&horizon=36500' 'by=day' ''; do
	req GET "/performance?$q"; want 200
	jq -S . body >served.json
	by=$(printf '%s' "$q" | sed -n 's/.*by=\([a-z]*\).*/\1/p')
	h=$(printf '%s' "$q" | sed -n 's/.*horizon=\([0-9]*\).*/\1/p')
	churn-models perf ${by:+--by "$by"} ${h:+--horizon "$h"} --json | jq -S . >cli.json ||
		fail "churn-models perf failed"
	same cli.json served.json
done
req GET '/performance?by=all&horizon=36500'; want 200
# each outcome of 2030 joins its row (today's, at midnight, precede them)
jqok '.joined == 401 and .versions[0].all.rows == 401 and .versions[0].all.roc_auc > 0.5'
req GET '/performance?by=year'; want 400
req GET '/performance?horizon=0'; want 400
echo ok
