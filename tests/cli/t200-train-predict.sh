#!/bin/sh
# churn-train and churn-predict on generated Telco-shaped data
. "$CHURN_TOP/tests/lib.sh"

churn-gen --rows 3000 --seed 7 -o data.csv
export SOURCE_DATE_EPOCH=1764115200   # 2025-11-26T00:00:00Z

expect 0 churn-train --seed 3 --jobs 1 -o m1.churn data.csv
mv out s1.json
[ -s m1.churn ] || fail "no model written"
[ ! -e m1.churn.tmp.* ] 2>/dev/null || fail "temporary file left behind"
[ ! -s err ] || fail "stderr not empty when it is not a terminal: $(cat err)"

# the summary is one JSON object with what churn-push and people need
/usr/bin/python3 - s1.json <<'PY' || fail "summary"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["version"] == "v20251126-000000", s["version"]
assert s["model"] == "m1.churn"
assert len(s["sha256"]) == 64
assert s["rows"] == {"total": 3000, "train": 2400, "eval": 600, "evaluation": "holdout"}, s["rows"]
names = [f["name"] for f in s["features"]]
assert "customerID" not in names and "Churn" not in names and len(names) == 19, names
types = {f["name"]: f["type"] for f in s["features"]}
assert types["tenure"] == "numeric" and types["Contract"] == "categorical"
assert types["TotalCharges"] == "numeric", "blank cells are missing, not text"
assert abs(sum(f["importance"] for f in s["features"]) - 1) < 1e-6
m = s["metrics"]
for k in ("roc_auc", "pr_auc", "accuracy", "precision", "recall", "f1", "log_loss"):
    assert 0 <= m[k] <= 1 or k == "log_loss", (k, m[k])
c = m["confusion"]
assert c["tp"] + c["fp"] + c["tn"] + c["fn"] == 600
assert abs(m["accuracy"] - (c["tp"] + c["tn"]) / 600) < 1e-9
assert m["roc_auc"] > 0.75, m["roc_auc"]
assert s["learner"] != "forest" or (0.5 < s["oob"]["score"] <= 1 and s["oob"]["rows"] > 2000), s["oob"]
# the learner and its settings are chosen on the data, and say so
p, c = s["params"], s["chosen"]
assert s["learner"] == p["learner"] == c["learner"]["value"] in ("forest", "gbdt"), (s["learner"], p)
assert c["learner"]["asked"] == "auto" and c["calibration"]["asked"] == "auto"
assert c["calibration"]["method"] in ("none", "platt", "isotonic")
if p["learner"] == "forest":
    assert p["trees"] == 100 and p["min_leaf"] in (1, 3, 10, 30, 100), p
else:
    assert p["iterations"] >= 1 and s["oob"] is None, p
assert s["data"]["final_rows"] == 3000, s["data"]
PY

# the checksum the summary reports is the file's
[ "$(sha256sum m1.churn | cut -d' ' -f1)" = "$(/usr/bin/python3 -c 'import json;print(json.load(open("s1.json"))["sha256"])')" ] ||
	fail "summary sha256 is not sha256sum of the model file"

# same seed, other thread count: the same file, byte for byte
expect 0 churn-train --seed 3 --jobs 2 -o m2.churn data.csv
cmp m1.churn m2.churn || fail "--jobs changed the model"
expect 0 churn-train --seed 4 -o m3.churn data.csv
cmp -s m1.churn m3.churn && fail "--seed did not change the model"

# scoring: a header, a row per customer, probabilities in [0, 1]
expect 0 churn-predict -m m1.churn data.csv
mv out scores.csv
[ "$(head -n 1 scores.csv)" = "customerID,churn_probability,churn" ] || fail "header: $(head -n 1 scores.csv)"
[ "$(wc -l < scores.csv)" -eq 3001 ] || fail "rows: $(wc -l < scores.csv)"
awk -F, 'NR > 1 && !($2 >= 0 && $2 <= 1 && ($3 == ($2 >= 0.5)))' scores.csv | head -n 1 > badrows
[ ! -s badrows ] || fail "bad output row: $(cat badrows)"
# the same from stdin, with several threads or one
churn-predict -m m1.churn --jobs 1 < data.csv > scores1.csv || fail "stdin"
same scores.csv scores1.csv

# JSON lines in and out agree with CSV
/usr/bin/python3 - data.csv > data.jsonl <<'PY'
import csv, json, sys
for r in csv.DictReader(open(sys.argv[1])):
    r["tenure"] = int(r["tenure"]); r["SeniorCitizen"] = int(r["SeniorCitizen"])
    r["TotalCharges"] = float(r["TotalCharges"]) if r["TotalCharges"].strip() else None
    print(json.dumps(r))
PY
expect 0 churn-predict -m m1.churn --json-in --json data.jsonl
/usr/bin/python3 - out scores.csv <<'PY' || fail "json output differs from csv"
import csv, json, sys
js = [json.loads(l) for l in open(sys.argv[1])]
cs = list(csv.DictReader(open(sys.argv[2])))
assert len(js) == len(cs) == 3000
for j, c in zip(js, cs):
    assert j["customerID"] == c["customerID"]
    assert abs(j["churn_probability"] - float(c["churn_probability"])) < 1e-6, (j, c)
    assert j["churn"] == (c["churn"] == "1") and j["model_version"] == "v20251126-000000"
PY

# schema and metadata
expect 0 churn-predict -m m1.churn --schema
/usr/bin/python3 - out <<'PY' || fail "schema"
import json, sys
s = json.load(open(sys.argv[1]))
f = {x["name"]: x for x in s["features"]}
assert s["model_version"] == "v20251126-000000" and s["threshold"] == 0.5
assert f["Contract"]["categories"] == ["Month-to-month", "One year", "Two year"], f["Contract"]
assert f["tenure"]["type"] == "numeric" and f["tenure"]["min"] >= 0 and f["tenure"]["max"] <= 72
PY
expect 0 churn-predict -m m1.churn --describe
grep -q '"sha256"' out || fail "describe lacks sha256"
grep -q "$(/usr/bin/python3 -c 'import json;print(json.load(open("s1.json"))["sha256"])')" out ||
	fail "describe and summary disagree on the checksum"
exit 0
