#!/bin/sh
# The prediction log, outcomes and live performance with the registry on
# PostgreSQL and the S3 test server: /predict rows reach churn_predictions
# with the answering version and, in shadow, both scores; SIGTERM writes
# the queue; POST /outcomes fills churn_outcomes (twice: no change, a bad
# file: nothing); /performance equals churn-models perf --json
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"
command -v psql >/dev/null || skip "psql is not installed"

use_services
# shellcheck disable=SC2154
trap 'status_=$?; stop_serve; (exit $status_); drop_db' EXIT
q() { psql -X -At "$CHURN_DATABASE_URL" -c "$1"; }
churn-gen --rows 800 --seed 3 -o d.csv || fail "churn-gen failed"
for i in 1 2; do
	SOURCE_DATE_EPOCH=$((1700000000 + i * 60)) churn-train --trees 5 --seed "$i" \
	    -o "m$i.churn" d.csv >"s$i.json" 2>train.err || { cat train.err >&2; fail "churn-train failed"; }
done
v1=$(jq -r .version s1.json) v2=$(jq -r .version s2.json)
churn-push --init --alias champion m1.churn >/dev/null || fail "churn-push m1 failed"
churn-push --alias challenger m2.churn >/dev/null || fail "churn-push m2 failed"
churn-gen --rows 200 --seed 8 -o c.csv || fail "churn-gen failed"
sed 's/,[^,]*$//' c.csv >c-nolabel.csv
head -51 c-nolabel.csv >fifty.csv

auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600
req POST /predict -H 'Content-Type: text/csv' --data-binary @fifty.csv; want 200
cp body fifty.out
i=0
while [ "$(q 'SELECT count(*) FROM churn_predictions')" -ne 50 ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "$(q 'SELECT count(*) FROM churn_predictions') rows in churn_predictions, not 50"
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM churn_predictions WHERE model_version = '$v1'
    AND shadow_version IS NULL AND features->>'tenure' IS NOT NULL")" -eq 50 ] ||
	fail "rows lack the version or the features"
id=$(sed -n 2p fifty.out | cut -d, -f1) p=$(sed -n 2p fifty.out | cut -d, -f2)
[ "$(q "SELECT abs(probability - $p) < 1e-6 FROM churn_predictions WHERE customer_id = '$id'")" = t ] ||
	fail "customer $id's probability is not the answer's $p"

# shadow: both scores
churn-models rollout set challenger --shadow --reason t589 >/dev/null || fail "rollout --shadow failed"
req POST /reload -H "$auth"; want 200
tail -n 150 c-nolabel.csv | { head -1 c-nolabel.csv; cat; } >rest.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @rest.csv; want 200
churn-predict -m m2.churn rest.csv >rest-2.csv 2>/dev/null || fail "churn-predict m2 failed"
i=0
while [ "$(q 'SELECT count(*) FROM churn_predictions')" -ne 200 ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "the shadow rows did not reach churn_predictions"
	sleep 0.1
done
[ "$(q "SELECT count(*) FROM churn_predictions WHERE model_version = '$v1'
    AND shadow_version = '$v2' AND shadow_probability IS NOT NULL")" -eq 150 ] ||
	fail "the shadow rows lack the challenger's score"
id=$(sed -n 2p rest-2.csv | cut -d, -f1) p=$(sed -n 2p rest-2.csv | cut -d, -f2)
[ "$(q "SELECT abs(shadow_probability - $p) < 1e-6 FROM churn_predictions WHERE customer_id = '$id'")" = t ] ||
	fail "customer $id's shadow probability is not m2's $p"
churn-models rollout off --reason t589 >/dev/null || fail "rollout off failed"
stop_serve

# SIGTERM writes the queue to the table
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600 \
	--predlog-flush-interval 1h --predlog-flush-rows 100000
req POST /predict -H 'Content-Type: text/csv' --data-binary @fifty.csv; want 200
sleep 0.5
[ "$(q 'SELECT count(*) FROM churn_predictions')" -eq 200 ] || fail "rows written before the flush interval"
stop_serve
[ "$(q 'SELECT count(*) FROM churn_predictions')" -eq 250 ] || fail "SIGTERM did not write the queue"

# outcomes into churn_outcomes
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600
awk -F, 'NR == 1 { print "id,outcome,time" } NR > 1 { print $1 "," $NF ",2030-01-01" }' c.csv >o.csv
req POST /outcomes -H "$auth" -H 'Content-Type: text/csv' --data-binary @o.csv; want 200
jqok '.recorded == 200 and .unmatched == 0'
req POST /outcomes -H "$auth" -H 'Content-Type: text/csv' --data-binary @o.csv; want 200
jqok '.recorded == 0 and .duplicates == 200'
printf 'id,outcome,time\nnew1,Yes,2030-01-02\nnew2,Perhaps,2030-01-02\n' >bad.csv
req POST /outcomes -H "$auth" -H 'Content-Type: text/csv' --data-binary @bad.csv; want 422
jqok '.error | test("request body:3: column .outcome.")'
[ "$(q 'SELECT count(*) FROM churn_outcomes')" -eq 200 ] || fail "churn_outcomes does not hold the 200 outcomes"

for by in week all; do
	req GET "/performance?by=$by&horizon=36500"; want 200
	jq -S . body >served.json
	churn-models perf --by "$by" --horizon 36500 --json | jq -S . >cli.json || fail "churn-models perf failed"
	same cli.json served.json
done
jqok '.joined == 200'
echo ok
