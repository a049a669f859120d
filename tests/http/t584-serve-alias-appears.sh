#!/bin/sh
# churn-serve started on a registry that has no model yet (an empty store,
# an alias not set yet) starts unready instead of exiting, and the refresher
# loads the alias when it appears and follows it when it moves; a --model
# FILE that does not exist still exits 2
. "$CHURN_TOP/tests/lib.sh"
command -v churn-push >/dev/null || skip "churn-push is not built"
. "$CHURN_TOP/tests/http/serve.sh"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 800 1
sleep 1
model b.model 800 2
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json)

# a file path that does not exist: a usage error, registry or not
expect 2 churn-serve --listen 127.0.0.1:0 --state-dir st0 --model ./no-such.churn
grep_err "no-such.churn"

# waitready VERSION : /ready 200 and /health naming VERSION within 10 s
# (the interval is 0.5 s); prints how long it took
waitready() {
	i=0
	until req GET /ready && [ "$status" = 200 ] && req GET /health &&
	    jq -e '.model_version == "'"$1"'"' body >/dev/null; do
		i=$((i + 1)); [ $i -gt 200 ] && fail "not serving $1 10 s later: /ready $status, $(cat body)"
		sleep 0.05
	done
	echo "serving $1 after about $((i * 50)) ms"
}

# nothing in the store at all: unready, alive
start_serve --model champion --refresh-interval 0.5 --registry-timeout 2
req GET /ready; want 503
req GET /health; want 200
grep -q 'no model yet' serve.log || fail "no log line saying there is no model yet: $(cat serve.log)"
sleep 1
kill -0 "$SERVE_PID" 2>/dev/null || fail "churn-serve exited"
req GET /ready; want 503

# a version without the alias: still unready
churn-push --init a.model >/dev/null || fail "churn-push a failed"
sleep 1.2
req GET /ready; want 503

# the alias appears: loaded within the interval, no reload asked
churn-push --alias champion a.model >/dev/null || fail "churn-push --alias a failed"
waitready "$va"
grep -q 'by=refresher' serve.log || fail "no log line for the refresher's reload: $(cat serve.log)"

# the alias moves: followed
churn-push --alias champion b.model >/dev/null || fail "churn-push --alias b failed"
waitready "$vb"
stop_serve

# without --model, on an empty registry: the first version pushed is
# loaded, and a later push is not deployed by itself
rm -rf store st
start_serve --refresh-interval 0.5 --registry-timeout 2
req GET /ready; want 503
churn-push --init a.model >/dev/null || fail "churn-push a failed"
waitready "$va"
churn-push b.model >/dev/null || fail "churn-push b failed"
sleep 1.5
req GET /health; jqok '.model_version == "'"$va"'"'
echo ok
