#!/bin/sh
# churn-serve with a database: the live-traffic window is the table
# churn_window (no window file), /drift/check without a body reads it, the
# table stays bounded, and a database that cannot be reached never fails
# /predict
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v psql >/dev/null || skip "psql is not installed"
[ -n "${CHURN_TEST_DATABASE_URL:-}" ] ||
	skip "no test database: CHURN_TEST_DATABASE_URL unset (tests/run starts it; by hand: scripts/services up DIR && . DIR/env)"

test_db=t5w_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
drop_db() {
	psql -X -q "$CHURN_TEST_DATABASE_URL" \
		-c "DROP DATABASE IF EXISTS $test_db WITH (FORCE)" >/dev/null 2>&1
}
# (stop_serve sets rc: keep the test's status apart)
# shellcheck disable=SC2154
trap 'status_=$?; stop_serve; drop_db; exit $status_' EXIT
psql -X -q "$CHURN_TEST_DATABASE_URL" -c "CREATE DATABASE $test_db" >/dev/null ||
	fail "cannot create database $test_db"
unset CHURN_STORE CHURN_S3_ENDPOINT
CHURN_DATABASE_URL=${CHURN_TEST_DATABASE_URL%/*}/$test_db
export CHURN_DATABASE_URL
sql() { psql -X -At "$CHURN_DATABASE_URL" -c "$1"; }

model m.churn 800
v=$(jq -r .version m.churn.json)
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model m.churn --window-rows 10

# wait_rows N: churn_window holds N rows (the main thread flushes five
# times a second; give it up to 10 s)
wait_rows() {
	i=0
	while [ "$(sql "SELECT count(*) FROM churn_window" 2>/dev/null)" != "$1" ]; do
		i=$((i + 1))
		[ $i -gt 200 ] && fail "churn_window holds $(sql "SELECT count(*) FROM churn_window") rows, not $1"
		sleep 0.05
	done
}

# an empty window is still a 422 (the table exists once the server has
# opened the registry, but holds nothing)
req POST /drift/check -H "$auth"; want 422; jqok '.error | test("window is empty")'

# seven customers: five one by one (the raw path), two in an array
: >probs
for n in 1 2 3 4 5; do
	customer "$n" m.churn.csv >c$n.json
	req POST /predict --data-binary @c$n.json; want 200
	jq -r '.churn_probability' body >>probs
done
customer 6 m.churn.csv >c6.json
customer 7 m.churn.csv >c7.json
jq -s -c . c6.json c7.json >two.json
req POST /predict --data-binary @two.json; want 200
jq -r '.[].churn_probability' body >>probs
wait_rows 7

# the rows as scored: in order, version, probability, the features as sent
sql "SELECT row->>'customerID' FROM churn_window ORDER BY id" >got
for n in 1 2 3 4 5 6 7; do jq -r .customerID c$n.json; done >want
# every row keeps the id column with the features
same want got
sql "SELECT row->>'tenure' FROM churn_window ORDER BY id" >got
for n in 1 2 3 4 5 6 7; do jq -r .tenure c$n.json; done >want
same want got
[ "$(sql "SELECT count(*) FROM churn_window WHERE model_version = '$v'")" = 7 ] ||
	fail "rows not of version $v: $(sql "SELECT model_version FROM churn_window")"
[ "$(sql "SELECT count(*) FROM churn_window WHERE row ? 'churn_probability'
    OR row ? 'model_version' OR row ? 'time'")" = 0 ] ||
	fail "the three window fields are left in the row column"
sql "SELECT probability FROM churn_window ORDER BY id" >got
awk '{ printf "%.6f\n", $1 }' probs >want
awk '{ printf "%.6f\n", $1 }' got >got6
same want got6
# no window file when the database keeps the window
if [ -e st/window.jsonl ] || [ -e st/window.1.jsonl ]; then
	fail "window file written although the database keeps the window"
fi

# /drift/check without a body: the real churn-drift over those rows
req POST /drift/check -H "$auth"; want 200
jqok '.rows.current == 7 and .model_version == "'"$v"'"'
grep -q 'drift checked.* rows=7' serve.log ||
	{ grep 'drift checked' serve.log >&2; fail "the log does not say 7 window rows"; }

# the server's connection is cut: the next flush reconnects; 25 more rows
# leave the newest 2 x 10 in the table, and the check uses those 20
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
i=8
: >many
while [ $i -le 32 ]; do customer $i m.churn.csv >c$i.json; cat c$i.json >>many; i=$((i + 1)); done
jq -s -c . many >many.json
req POST /predict --data-binary @many.json; want 200
[ "$(jq length body)" = 25 ] || fail "25 customers gave $(jq length body) answers"
# the 32nd row in, 20 rows kept: ids 13..32, the newest
i=0
until [ "$(sql "SELECT count(*) || ' ' || min(id) || ' ' || max(id) FROM churn_window")" = "20 13 32" ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "churn_window keeps $(sql "SELECT count(*) || ' rows, ids ' || min(id) || '..' || max(id) FROM churn_window"), not 20 rows 13..32"
	sleep 0.05
done
[ "$(sql "SELECT row->>'tenure' FROM churn_window ORDER BY id DESC LIMIT 1")" = "$(jq -r .tenure c32.json)" ] ||
	fail "the newest row is not the last customer sent"
req POST /drift/check -H "$auth"; want 200
jqok '.rows.current == 20'
[ ! -e st/window.jsonl ] || fail "window file written after the reconnect"
stop_serve

# a database that cannot be reached: /predict answers, a warning is
# logged, the check says why it cannot read the window, no file is written
rm -rf st
CHURN_DATABASE_URL=postgresql://churn:x@127.0.0.1:1/none \
	CHURN_ADMIN_TOKEN=tok start_serve --model m.churn --window-rows 10
req POST /predict --data-binary @c1.json; want 200
jqok '.model_version == "'"$v"'"'
i=0
until grep -q 'window rows kept in memory' serve.log; do
	i=$((i + 1))
	[ $i -gt 200 ] && { cat serve.log >&2; fail "no warning about the window in the log"; }
	sleep 0.05
done
grep 'window rows kept in memory' serve.log | grep -q '127.0.0.1:1/none' ||
	fail "the warning does not name the database: $(grep 'window rows' serve.log)"
grep -q 'x@' serve.log && fail "the log shows the database password"
req POST /predict --data-binary @c2.json; want 200
req POST /drift/check -H "$auth"; want 503
jqok '.error | test("live-traffic window cannot be read") and test("127.0.0.1:1/none")'
[ ! -e st/window.jsonl ] || fail "window file written while the database is down"
# 30 more: memory holds the newest 2 x 10, the oldest 12 go (logged)
jq -s -c '. + . + . + . + . + .' c1.json c2.json c3.json c4.json c5.json >thirty.json
req POST /predict --data-binary @thirty.json; want 200
i=0
until grep -q 'window rows dropped: the database is down rows=12' serve.log; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "held rows not trimmed to 20: $(grep 'window rows' serve.log)"
	sleep 0.05
done
stop_serve
grep -q 'window rows lost: the database cannot take them rows=20' serve.log ||
	fail "no warning about the 20 rows lost at exit: $(grep 'window rows' serve.log)"

# a database that appears later: the rows held meanwhile reach it, in order
late_db=${test_db}_late
drop_db() {
	for d in "$test_db" "$late_db"; do
		psql -X -q "$CHURN_TEST_DATABASE_URL" \
			-c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
	done
}
CHURN_DATABASE_URL=${CHURN_TEST_DATABASE_URL%/*}/$late_db
start_serve --model m.churn --window-rows 10
for n in 1 2 3; do req POST /predict --data-binary @c$n.json; want 200; done
i=0
until grep -q 'window rows kept in memory.*does not exist' serve.log; do
	i=$((i + 1))
	[ $i -gt 200 ] && { cat serve.log >&2; fail "no warning about the missing database"; }
	sleep 0.05
done
psql -X -q "$CHURN_TEST_DATABASE_URL" -c "CREATE DATABASE $late_db" >/dev/null ||
	fail "cannot create database $late_db"
req POST /predict --data-binary @c4.json; want 200
# the retry pause doubles from 1 s: within 10 s the rows are in
i=0
until [ "$(sql "SELECT count(*) FROM churn_window" 2>/dev/null)" = 4 ]; do
	i=$((i + 1))
	[ $i -gt 200 ] && fail "rows held while the database was missing did not arrive"
	sleep 0.05
done
sql "SELECT row->>'customerID' FROM churn_window ORDER BY id" >got
for n in 1 2 3 4; do jq -r .customerID c$n.json; done >want
same want got
grep -q 'window rows reach the database again' serve.log ||
	fail "no note that the database is back: $(grep 'window rows' serve.log)"
echo ok
