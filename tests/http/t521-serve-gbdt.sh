#!/bin/sh
# churn-serve on a model of boosted trees, calibrated: /predict answers what
# churn-predict prints, ?explain=1 explains, /model says the learner
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

churn-gen --rows 2000 --seed 41 -o g.csv || fail "churn-gen failed"
churn-train --learner gbdt --calibrate platt -o g.churn g.csv >g.json 2>g.err ||
	{ cat g.err >&2; fail "churn-train failed"; }
jq -e '.learner == "gbdt" and .chosen.calibration.method == "platt"' g.json >/dev/null ||
	fail "not a calibrated boosted model: $(jq -c .chosen g.json)"
customer 3 g.csv >one.json
head -4 g.csv >three.csv
churn-predict -m g.churn three.csv >want.csv || fail "churn-predict failed"
start_serve --model g.churn

req GET /model; want 200
jqok '.learner == "gbdt" and (.calibration.method == "platt")'
req POST /predict -H 'Content-Type: text/csv' --data-binary @three.csv; want 200
same want.csv body
req POST '/predict?explain=1' --data-binary @one.json; want 200
jqok '(.churn_probability | . > 0 and . < 1) and (.explanation | length) > 10
    and (.explanation[0] | has("feature") and has("delta"))
    and ([.explanation[].delta | fabs] as $d | $d == ($d | sort | reverse))'
p=$(jq .churn_probability body)
[ "$(sed -n 4p want.csv | cut -d, -f2)" = "$(printf '%.6f' "$p")" ] ||
	fail "JSON answer $p is not churn-predict's $(sed -n 4p want.csv)"
echo ok
