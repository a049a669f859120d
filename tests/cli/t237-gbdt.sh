#!/bin/sh
# the boosted trees (--learner gbdt) on the forest's invariants and through
# every tool downstream: the same model whatever --jobs, missing values,
# unseen categories, corrupt files, prediction drift, the registry
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"
fx=$CHURN_TOP/tests/fixtures/model-v1
export SOURCE_DATE_EPOCH=1764115200

# training data with blank cells in numeric and categorical columns
gen --rows 3000 --seed 21 -o raw.csv || fail "churn-gen failed"
awk -F, -v OFS=, 'NR > 1 && NR % 9 == 0 { $6 = "" } NR > 1 && NR % 13 == 0 { $16 = "" } { print }' raw.csv >data.csv

expect 0 churn-train --learner gbdt --seed 5 --jobs 1 -o g1.churn data.csv
mv out g1.json
expect 0 churn-train --learner gbdt --seed 5 --jobs 2 -o g2.churn data.csv
cmp g1.churn g2.churn || fail "--jobs changed the boosted model"
/usr/bin/python3 - g1.json <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["learner"] == "gbdt" and s["params"]["learner"] == "gbdt", s["params"]
assert s["oob"] is None and s["params"]["iterations"] >= 5, s["params"]
c = s["chosen"]
assert c["learner"]["asked"] == "gbdt" and c["gbdt"]["iterations"] >= 5, c
assert s["metrics"]["roc_auc"] > 0.75, s["metrics"]
assert s["data"]["final_rows"] == 3000
PY
expect 0 churn-train --learner gbdt --seed 6 -o g3.churn data.csv
cmp -s g1.churn g3.churn && fail "--seed did not change the boosted model"

# scoring: unseen categories and blanks (the fixtures' file), one thread or two
expect 0 churn-predict -m g1.churn "$fx/score-u.csv"
mv out s1.csv
grep_err "unseen in training"
[ "$(wc -l <s1.csv)" -eq 301 ] || fail "rows: $(wc -l <s1.csv)"
awk -F, 'NR > 1 && !($2 > 0 && $2 < 1)' s1.csv | head -n 1 >bad
[ ! -s bad ] || fail "not a probability: $(cat bad)"
expect 0 churn-predict -m g1.churn --jobs 1 "$fx/score-u.csv"
same s1.csv out
expect 0 churn-predict -m g1.churn --describe
grep -q '"learner": "gbdt"' out || fail "--describe lacks the learner"

# every calibration, asked for by name, is what the model holds
for c in none platt isotonic; do
	expect 0 churn-train --learner gbdt --calibrate $c -o c.churn data.csv
	grep -q "\"method\": \"$c\"" out || fail "--calibrate $c: $(grep -A2 '"calibration"' out | head -5)"
	expect 0 churn-predict -m c.churn "$fx/score-u.csv"
done
# the default (auto) is the boosted trees here; best grows both and keeps
# the better on the validation rows, and says both figures
expect 0 churn-train --seed 5 -o a.churn data.csv
/usr/bin/python3 - out <<'PY' || fail "auto summary"
import json, sys
c = json.load(open(sys.argv[1]))["chosen"]["learner"]
assert c["asked"] == "auto" and c["value"] == "gbdt" and c["forest"] is None, c
PY
expect 0 churn-train --learner best --seed 5 -o b.churn data.csv
/usr/bin/python3 - out <<'PY' || fail "best summary"
import json, sys
s = json.load(open(sys.argv[1]))
c = s["chosen"]["learner"]
assert c["asked"] == "best" and c["gbdt"] > 0.5, c
assert c["forest"] is None or c["forest"] > 0.5, c
assert s["learner"] == c["value"], (s["learner"], c)
assert c["value"] == ("gbdt" if c["forest"] is None or c["gbdt"] > c["forest"] else "forest"), c
PY
expect 2 churn-train --learner boost data.csv
grep_err "--learner: 'boost' is not auto, forest, gbdt or best"
expect 2 churn-train --calibrate beta data.csv
grep_err "--calibrate: 'beta' is not auto, none, isotonic or platt"

# corrupt files: cut short, a flipped byte
head -c 3000 g1.churn >cut.churn
expect 2 churn-predict -m cut.churn "$fx/score-u.csv"
grep_err "truncated"
/usr/bin/python3 -c '
import sys
b = bytearray(open("g1.churn", "rb").read()); b[-100] ^= 0x20
open("flip.churn", "wb").write(b)'
expect 2 churn-predict -m flip.churn "$fx/score-u.csv"
grep_err "corrupt model"

# prediction drift: the shifted population moves the boosted probability
gen --rows 3000 --seed 22 --shift -o shift.csv || fail "churn-gen failed"
expect 1 churn-drift -m g1.churn shift.csv
/usr/bin/python3 -c '
import json, sys
r = json.load(open("out"))
assert r["prediction"]["value"] > 0.1, r["prediction"]' || fail "no prediction drift"

# the registry takes it like any model
use_file
expect 0 churn-push g1.churn
expect 0 churn-models list
grep -q v20251126-000000 out || fail "pushed boosted model not listed"
exit 0
