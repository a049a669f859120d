#!/bin/sh
# churn-serve: --model names an alias in the registry; /reload follows the
# alias, a tampered artifact is refused, drift reports go to the registry
. "$CHURN_TOP/tests/lib.sh"
command -v churn-push >/dev/null || skip "churn-push is not built (registry not merged)"
. "$CHURN_TOP/tests/http/serve.sh"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 1500 1
sleep 1
model b.model 1500 2
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json)
churn-push --init --alias champion a.model >/dev/null || fail "churn-push a failed"
churn-push b.model >/dev/null || fail "churn-push b failed"
cat >fake-drift <<'SH'
#!/bin/sh
cat >/dev/null
printf '{"model_version":"vX","drift":true,"drift_share":0.25,"features":[]}\n'
exit 1
SH
chmod +x fake-drift
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --drift-cmd "$PWD/fake-drift"

req GET /health; want 200; jqok '.model_version == "'"$va"'"'
[ -f "st/models/$va.churn" ] || fail "the pulled model is not kept in the state dir"
req GET /models; want 200
jqok '(.versions | map(.version)) == ["'"$va"'", "'"$vb"'"] and .aliases.champion == "'"$va"'"
    and (.history | length) == 1 and .history[0].alias == "champion"'

# the alias moves: /reload follows it
churn-models alias set champion "$vb" >/dev/null || fail "alias set failed"
req POST /reload -H "$auth"; want 200; jqok '.model_version == "'"$vb"'" and .previous == "'"$va"'"'
req GET /models; want 200; jqok '(.history | length) == 2 and .aliases.champion == "'"$vb"'"'

# a tampered artifact in the store: refused, the old model serves on
churn-models alias set champion "$va" >/dev/null || fail "alias set failed"
obj=$(find store -path "*$va*" -name 'model.churn' | head -1)
[ -n "$obj" ] || fail "no artifact for $va in the store"
printf 'x' | dd of="$obj" bs=1 seek=100 conv=notrunc 2>/dev/null
rm -f "st/models/$va.churn"
req POST /reload -H "$auth"; want 500
jqok '.reloaded == false and .model_version == "'"$vb"'" and (.error | test("'"$va"'"))'
req GET /health; jqok '.model_version == "'"$vb"'"'
req POST '/reload?model=v19990101-000000' -H "$auth"; want 500; jqok '.error | test("v19990101-000000")'

# drift reports are recorded in the registry
head -11 a.model.csv >ten.csv
req POST /drift/check -H "$auth" -H 'Content-Type: text/csv' --data-binary @ten.csv; want 200
jqok '.drift == true'
req GET /drift/reports; want 200; jqok '(.reports | length) == 1 and .reports[0].drift_share == 0.25'
[ -e st/drift-reports.jsonl ] && fail "report kept locally instead of in the registry"
echo ok
