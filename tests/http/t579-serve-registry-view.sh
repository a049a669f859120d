#!/bin/sh
# churn-serve's registry view: refreshed in the background, a registry
# that fails leaves the last view served up to the staleness bound, then
# 503 with Retry-After and the reason, and the view comes back by itself
. "$CHURN_TOP/tests/lib.sh"
command -v churn-push >/dev/null || skip "churn-push is not built"
. "$CHURN_TOP/tests/http/serve.sh"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 800 1
va=$(jq -r .version a.model.json)
churn-push --init --alias champion a.model >/dev/null || fail "churn-push failed"
start_serve --model champion --refresh-interval 0.2 --registry-timeout 1

req GET /models; want 200; jqok '.aliases.champion == "'"$va"'"'
# a change made elsewhere shows within the interval
churn-models alias set staging "$va" >/dev/null || fail "alias set failed"
i=0
until req GET /models && [ "$status" = 200 ] && jq -e '.aliases.staging' body >/dev/null; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the new alias did not show within 5 s"
	sleep 0.05
done

# the index cannot be read: the last view, then (bound 3 * 0.2 + 1 s) 503
idx=$(find store -name index.json | head -1)
[ -n "$idx" ] || fail "no index.json in the store"
mv "$idx" index.good
printf 'not json' >"$idx"
req GET /models; want 200
i=0
until req GET /models && [ "$status" = 503 ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "/models still $status 10 s after the registry broke"
	sleep 0.05
done
echo "503 after about $((i * 50)) ms"
grep -qi '^retry-after: *[1-9]' hdr || fail "no Retry-After on the stale answer"
jqok '.error | test("registry")'
req GET /drift/reports; want 503
req GET /health; want 200
grep -q 'registry view not refreshed' serve.log || fail "no warning logged"

# repaired: served again without a restart
mv index.good "$idx"
i=0
until req GET /models && [ "$status" = 200 ]; do
	i=$((i + 1)); [ $i -gt 200 ] && fail "/models still $status 10 s after the repair"
	sleep 0.05
done
jqok '.aliases.champion == "'"$va"'"'
grep -q 'registry view refreshed again' serve.log || fail "no recovery logged"
echo ok
