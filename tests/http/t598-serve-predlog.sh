#!/bin/sh
# churn-serve keeps every answered row with a customer id in the registry's
# prediction log (segments under a file:// store): JSON object, array and
# CSV, the version that answered, the model's features, both scores in
# shadow and the challenger's version in a canary; rows without an id and
# refused requests are not kept; SIGTERM writes what is queued; --predlog
# off writes nothing; rows past --predlog-retain-days are pruned
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 1500 1
sleep 1
model b.model 1500 2
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json)
churn-push --init --alias champion a.model >/dev/null || fail "churn-push a failed"
churn-push --alias challenger b.model >/dev/null || fail "churn-push b failed"
nfeat=$(churn-predict -m a.model --describe | jq '.features | length')

churn-gen --rows 300 --seed 9 -o c.csv || fail "churn-gen failed"
sed 's/,[^,]*$//' c.csv >c-nolabel.csv
{ head -1 c-nolabel.csv; sed -n 7,11p c-nolabel.csv; } >five.csv
customer 1 c.csv >one.json
{ printf '['; customer 2 c.csv; printf ','; customer 3 c.csv; printf ','
  customer 4 c.csv | jq -c 'del(.customerID)'; printf ']'; } >three.json

# log: every row of the segments, one JSON a line
log() { cat store/predictions/*/*.jsonl 2>/dev/null; }
# metric NAME: its value in /metrics
metric() { curl -s "$URL/metrics" | sed -n "s/^$1 //p"; }
# wait_recorded N: the writer has written N rows (a hang bound of 20 s)
wait_recorded() {
	i=0
	while [ "$(metric 'churn_predlog_rows_total{result="recorded"}')" != "$1" ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "recorded $(metric 'churn_predlog_rows_total{result="recorded"}') rows, not $1"
		sleep 0.1
	done
}

auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600
grep -q 'prediction log on' serve.log || fail "no 'prediction log on' line at start"
[ "$(metric churn_predlog_enabled)" = 1 ] || fail "the log is not on by default"

req POST /predict -H 'Content-Type: application/json' --data-binary @one.json; want 200
cp body one.out
req POST /predict -H 'Content-Type: application/json' --data-binary @three.json; want 200
req POST /predict -H 'Content-Type: text/csv' --data-binary @five.csv; want 200
cp body five.out
# an id and values that need escaping (short ones, and long ones with the
# escape past the first 8 or 16 bytes), a number as a number
jq -c '.customerID = "q\"u\\o\tte/\u00e9" | .gender = "x\ny" | .tenure = 7.5
    | .PaymentMethod = ("a long value, past sixteen bytes: \"q\" \\ \u0001 end \u00e9")
    | .Contract = "0123456789abcdef\u001f"' one.json >odd.json
req POST /predict -H 'Content-Type: application/json' --data-binary @odd.json; want 200
wait_recorded 9
log | jq -e -s 'any(.id == "q\"u\\o\tte/\u00e9" and .features.gender == "x\ny" and .features.tenure == 7.5
    and .features.PaymentMethod == "a long value, past sixteen bytes: \"q\" \\ \u0001 end \u00e9"
    and .features.Contract == "0123456789abcdef\u001f")' \
    >/dev/null || fail "the odd id or values were not kept as sent"
[ "$(metric 'churn_predlog_rows_total{result="no_id"}')" = 1 ] || fail "the row without an id is not counted"
[ "$(log | wc -l)" -eq 9 ] || fail "$(log | wc -l) rows in the log, not 9"
log | jq -e -s --arg v "$va" --argjson n "$nfeat" 'all(.model_version == $v and
    (.features | length) == $n and (.time | test("^20[0-9-]+T[0-9:]+Z$")) and
    .shadow_version == null)' >/dev/null || fail "a row lacks its version, features or time: $(log | head -1)"
# the id and the probability the answer gave
id1=$(jq -r .customerID one.json)
p1=$(jq .churn_probability one.out)
log | jq -e -s --arg id "$id1" --argjson p "$p1" '[.[] | select(.id == $id)] | length == 1 and
    ((.[0].probability - $p) | length) < 1e-6 and .[0].features.tenure != null' >/dev/null ||
	fail "customer $id1 is not in the log with p $p1"
tail -n +2 five.out | while IFS=, read -r id p _; do
	log | jq -e -s --arg id "$id" --argjson p "$p" 'any(.id == $id and ((.probability - $p) | length) < 1e-6)' \
	    >/dev/null || fail "CSV row $id ($p) is not in the log"
done || exit 1
# a refused request keeps nothing
{ printf '['; customer 5 c.csv; printf ',{"customerID":"bad","tenure":"x"}]'; } >bad.json
req POST /predict -H 'Content-Type: application/json' --data-binary @bad.json; want 422
sleep 1.5
[ "$(log | wc -l)" -eq 9 ] || fail "a refused request's rows reached the log"

# shadow: the champion answers, both scores are kept
churn-models rollout set challenger --shadow --reason t598 >/dev/null || fail "rollout --shadow failed"
req POST /reload -H "$auth"; want 200
head -4 c-nolabel.csv >sh.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @sh.csv; want 200
req POST /predict -H 'Content-Type: application/json' --data-binary @one.json; want 200
wait_recorded 13
churn-predict -m b.model sh.csv >sh-b.csv 2>/dev/null || fail "churn-predict b failed"
tail -n +2 sh-b.csv | while IFS=, read -r id p _; do
	log | jq -e -s --arg id "$id" --argjson p "$p" --arg va "$va" --arg vb "$vb" 'any(.id == $id and
	    .model_version == $va and .shadow_version == $vb and
	    ((.shadow_probability - $p) | length) < 1e-6)' >/dev/null ||
		fail "shadow row $id lacks the challenger's score $p"
done || exit 1
[ "$(log | jq -s --arg vb "$vb" '[.[] | select(.shadow_version == $vb)] | length')" -eq 4 ] ||
	fail "not 4 shadow rows"

# a canary of 100 %: the challenger answers, its version is kept
churn-models rollout set challenger --canary 100 --reason t598 >/dev/null || fail "rollout --canary failed"
req POST /reload -H "$auth"; want 200
req POST /predict -H 'Content-Type: application/json' --data-binary @one.json; want 200
jqok '.model_version == "'"$vb"'"'
wait_recorded 14
log | jq -e -s --arg vb "$vb" --arg id "$id1" 'any(.id == $id and .model_version == $vb and .shadow_version == null)' \
    >/dev/null || fail "the canary's row does not name $vb"
churn-models rollout off --reason t598 >/dev/null || fail "rollout off failed"
stop_serve
grep -q 'prediction log flushed recorded=14 dropped=0 lost=0' serve.log ||
	fail "no flush line at shutdown: $(grep 'prediction log' serve.log)"

# SIGTERM writes the queue: nothing is written before, all of it after
start_serve --model champion --predlog-flush-interval 1h --predlog-flush-rows 100000
req POST /predict -H 'Content-Type: text/csv' --data-binary @c-nolabel.csv; want 200
sleep 1
[ "$(metric churn_predlog_queue_rows)" = 300 ] || fail "$(metric churn_predlog_queue_rows) rows queued, not 300"
[ "$(log | wc -l)" -eq 14 ] || fail "rows written before the flush interval"
stop_serve
[ "$(log | wc -l)" -eq 314 ] || fail "$(log | wc -l) rows after SIGTERM, not 314"

# the writer takes the queue every 1000 rows, and writes once
# --predlog-flush-rows rows are held (not one segment per 1000)
start_serve --model champion --predlog-flush-interval 1h --predlog-flush-rows 2500
for i in 1 2 3 4; do
	req POST /predict -H 'Content-Type: text/csv' --data-binary @c-nolabel.csv; want 200
done
sleep 1
[ "$(metric churn_predlog_queue_rows)" = 1200 ] || fail "$(metric churn_predlog_queue_rows) rows waiting, not 1200"
[ "$(log | wc -l)" -eq 314 ] || fail "rows written before --predlog-flush-rows were held"
for i in 1 2 3 4 5; do
	req POST /predict -H 'Content-Type: text/csv' --data-binary @c-nolabel.csv; want 200
done
i=0
until [ "$(log | wc -l)" -eq 3014 ]; do
	i=$((i + 1)); [ $i -le 100 ] || fail "$(log | wc -l) rows once 2700 were queued, not 3014"
	sleep 0.1
done
stop_serve
[ "$(log | wc -l)" -eq 3014 ] || fail "$(log | wc -l) rows after SIGTERM, not 3014"

# a full queue drops whole requests, counted
start_serve --model champion --predlog-queue 10 --predlog-flush-interval 1h
req POST /predict -H 'Content-Type: text/csv' --data-binary @five.csv; want 200
req POST /predict -H 'Content-Type: text/csv' --data-binary @c-nolabel.csv; want 200
[ "$(metric 'churn_predlog_rows_total{result="dropped"}')" = 300 ] || fail "the rows over the queue are not counted as dropped"
grep -q 'prediction log queue full' serve.log || fail "no warning of dropped rows"
stop_serve
[ "$(log | wc -l)" -eq 3019 ] || fail "$(log | wc -l) rows, not 3019"

# --predlog off: nothing kept
start_serve --model champion --predlog off
[ "$(metric churn_predlog_enabled)" = 0 ] || fail "--predlog off: still on"
req POST /predict -H 'Content-Type: text/csv' --data-binary @five.csv; want 200
stop_serve
[ "$(log | wc -l)" -eq 3019 ] || fail "--predlog off wrote rows"

# retention: a day older than --predlog-retain-days goes at the first round
mkdir -p store/predictions/2020-01-01
log | head -1 >store/predictions/2020-01-01/20200101T000000Z-0123456789abcdef.jsonl
start_serve --model champion --predlog-retain-days 30
i=0
while [ -d store/predictions/2020-01-01 ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the 2020 segment was not pruned"
	sleep 0.1
done
grep -q 'prediction log pruned' serve.log || fail "no log line for the pruning"
[ "$(log | wc -l)" -eq 3019 ] || fail "pruning removed current rows"
stop_serve
echo ok
