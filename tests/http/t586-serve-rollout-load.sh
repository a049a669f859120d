#!/bin/sh
# Under wrk load (32 connections, a Lua script that gives every request
# another customer id), the rollout switches off -> shadow -> canary 10 ->
# canary 50 -> promote -> off, each picked up by /reload or SIGHUP: no
# request fails (wrk's non-2xx and socket errors are 0), and the canary
# answered customers with the challenger while it ran
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v wrk >/dev/null || skip "wrk is not installed (scripts/install-deps)"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 1500 1
sleep 1
model b.model 1500 2
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json)
churn-push --init --alias champion a.model >/dev/null || fail "churn-push a failed"
churn-push --alias challenger b.model >/dev/null || fail "churn-push b failed"
customer 1 a.model.csv | jq -c 'del(.Churn) | .customerID = "@ID@"' >one.json
cat >load.lua <<EOF2
local body = [[$(cat one.json)]]
local n = 0
request = function()
  n = n + 1
  local id = "w" .. math.random(1, 100000000) .. "-" .. n
  return wrk.format("POST", "/predict",
    { ["Content-Type"] = "application/json" }, body:gsub("@ID@", id))
end
EOF2
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600 --threads 4
reload() { req POST /reload -H "$auth"; want 200; }

wrk -t 2 -c 32 -d 14s --timeout 10s -s load.lua "$URL" >wrk.out 2>&1 &
wpid=$!
sleep 1.5
churn-models rollout set challenger --shadow --reason "t586" >/dev/null || fail "shadow"
reload
sleep 1.5
churn-models rollout set challenger --canary 10 --reason "t586" >/dev/null || fail "canary 10"
kill -HUP "$SERVE_PID"
sleep 1.5
churn-models rollout set challenger --canary 50 --reason "t586" >/dev/null || fail "canary 50"
reload
sleep 1.5
req GET /rollout; want 200
jqok '.rollout.share == 50 and .versions[1].answered > 0 and .versions[0].answered > 0'
echo "canary 50: $(jq -c '[.versions[] | {model_version, answered}]' body), observed $(jq .observed_share body) %"
churn-models alias set champion challenger >/dev/null || fail "promote"
reload
sleep 1.5
churn-models rollout off --reason "t586 promoted" >/dev/null || fail "off"
reload
req GET /health; want 200; jqok '.model_version == "'"$vb"'"'
wait "$wpid" || { cat wrk.out >&2; fail "wrk failed"; }
cat wrk.out
grep -q "requests in" wrk.out || fail "wrk printed no totals"
grep -q "Non-2xx" wrk.out && fail "some requests failed: $(grep Non-2xx wrk.out)"
grep -q "Socket errors" wrk.out && fail "socket errors: $(grep 'Socket errors' wrk.out)"
n=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' wrk.out)
[ "${n:-0}" -gt 100 ] || fail "only ${n:-0} requests under load"
exit 0
