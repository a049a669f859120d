#!/bin/sh
# churn-serve: reload by request and by SIGHUP, a corrupt artifact keeps the
# old model serving, and reloads under load lose no request
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model a.model 1500 1
sleep 1         # versions are per second
model b.model 1500 2
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json)
[ "$va" != "$vb" ] || fail "two models with one version $va"
customer 1 a.model.csv >one.json
cp a.model cur.model
auth='Authorization: Bearer t0ken'
CHURN_ADMIN_TOKEN=t0ken start_serve --model cur.model --pid-file serve.pid
[ "$(cat serve.pid)" = "$SERVE_PID" ] || fail "pid file holds '$(cat serve.pid)', not $SERVE_PID"

health_version() { curl -s "$URL/health" | jq -r .model_version; }

req POST /reload -H "$auth"; want 200
jqok '.reloaded == true and .model_version == "'"$va"'"'
cp b.model cur.tmp && mv cur.tmp cur.model
req POST /reload -H "$auth"; want 200
jqok '.reloaded == true and .model_version == "'"$vb"'" and .previous == "'"$va"'"'
[ "$(health_version)" = "$vb" ] || fail "/health does not show $vb"

# SIGHUP does the same
cp a.model cur.tmp && mv cur.tmp cur.model
kill -HUP "$SERVE_PID"
i=0
while [ "$(health_version)" != "$va" ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "SIGHUP did not reload to $va"
	sleep 0.05
done
grep -q 'by=SIGHUP' serve.log || fail "no log line for the SIGHUP reload"

# a corrupt artifact: the old model keeps serving, the reason is given
head -c 2000 a.model >cur.model
req POST /reload -H "$auth"; want 500
jqok '.reloaded == false and .model_version == "'"$va"'" and (.error | test("cur.model"))'
req POST /predict --data-binary @one.json; want 200; jqok '.model_version == "'"$va"'"'
printf 'CHURNMDLgarbage' >cur.model
req POST /reload -H "$auth"; want 500; jqok '.model_version == "'"$va"'"'
req POST '/reload?model=no-such.model' -H "$auth"; want 500; jqok '.error | test("no-such.model")'
[ "$(health_version)" = "$va" ] || fail "a failed reload changed the model"
req GET /metrics
grep -q '^churn_model_reload_failures_total 3$' body || fail "failures not counted: $(grep failures body)"

# switch by name
req POST '/reload?model=b.model' -H "$auth"; want 200; jqok '.model_version == "'"$vb"'"'

# reloads under load: every request answered 200
load() {    # N: curl loop for 3 s, statuses to load.N
	end=$(($(date +%s) + 3))
	while [ "$(date +%s)" -lt "$end" ]; do
		curl -s -o /dev/null -w '%{http_code}\n' --data-binary @one.json "$URL/predict"
	done >"load.$1"
}
load 1 & l1=$!
load 2 & l2=$!
load 3 & l3=$!
if command -v wrk >/dev/null; then
	cat >post.lua <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("one.json"); wrk.body = f:read("*a"); f:close()
LUA
	wrk -t1 -c8 -d3s -s post.lua "$URL/predict" >wrk.out 2>&1 & w=$!
fi
n=0
while [ $n -lt 30 ]; do
	if [ $((n % 2)) -eq 0 ]; then m=a.model; else m=b.model; fi
	s=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$auth" "$URL/reload?model=$m")
	[ "$s" = 200 ] || fail "reload $n under load: $s"
	n=$((n + 1))
	sleep 0.05
done
wait $l1 $l2 $l3
[ -n "${w:-}" ] && wait "$w"
total=$(cat load.1 load.2 load.3 | wc -l)
bad=$(cat load.1 load.2 load.3 | grep -vc '^200$')
[ "$total" -gt 20 ] || fail "only $total requests under load"
[ "$bad" -eq 0 ] || fail "$bad of $total requests failed during reloads: $(sort load.* | uniq -c)"
if [ -n "${w:-}" ]; then
	grep -q 'Non-2xx' wrk.out && fail "wrk saw failed requests: $(cat wrk.out)"
	grep -q 'Socket errors' wrk.out && fail "wrk saw socket errors: $(cat wrk.out)"
	grep -q 'Requests/sec' wrk.out || fail "wrk did not run: $(cat wrk.out)"
fi
req GET /metrics
grep '^churn_http_requests_total{route="/predict"' body | grep -v 'status="200"' &&
    fail "metrics count failed predictions"
echo "ok: $total curl requests, 30 reloads, none failed"
