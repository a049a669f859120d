#!/bin/sh
# churn-models dataset: the labelled customers (each outcome joined to the
# latest prediction before it, within the horizon) as a CSV churn-train
# reads; --days, --rows, --with, the label's names, --put into the store;
# churn-push --dataset keeps the lineage and refuses a summary of other data
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_file
churn-gen --rows 2000 --seed 81 -o train.csv || fail "churn-gen failed"
churn-train --trees 10 --seed 1 -o m.churn train.csv >/dev/null 2>&1 || fail "churn-train failed"
expect 0 churn-push --init m.churn
# September's customers labelled on 20 September, October's on 20 October
churn-gen --rows 300 --seed 82 -o sep.csv --outcomes sep-o.csv --outcome-time 2026-09-20 &&
	churn-gen --rows 200 --seed 83 -o oct.csv --outcomes oct-o.csv --outcome-time 2026-10-20 ||
	fail "churn-gen failed"
expect 0 churn-predict -m m.churn --record --at 2026-09-01T08:00:00Z sep.csv
expect 0 churn-predict -m m.churn --record --at 2026-10-01T08:00:00Z oct.csv
expect 0 churn-outcomes sep-o.csv
expect 0 churn-outcomes oct-o.csv
# 50 outcomes of customers never scored: not joined
{ echo customerID,outcome; churn-gen --rows 50 --seed 84 | tail -n +2 | cut -d, -f1,21; } >never.csv
expect 0 churn-outcomes --time 2026-10-20 never.csv

# all of them: September first; the header id, features by name, Churn
expect 0 churn-models dataset -o all.csv
cp out all.json
[ "$(head -n 1 all.csv)" = "customerID,Contract,Dependents,DeviceProtection,InternetService,MonthlyCharges,MultipleLines,OnlineBackup,OnlineSecurity,PaperlessBilling,Partner,PaymentMethod,PhoneService,SeniorCitizen,StreamingMovies,StreamingTV,TechSupport,TotalCharges,gender,tenure,Churn" ] ||
	fail "header: $(head -n 1 all.csv)"
jq -e '.rows == 500 and .labelled == 500 and .outcomes == 550 and .joined == 500 and .with_rows == 0 and
	.from == "2026-09-20T00:00:00Z" and .to == "2026-10-20T00:00:00Z" and .output == "all.csv"' all.json >/dev/null ||
	fail "summary: $(cat all.json)"
[ "$(jq -r .sha256 all.json)" = "$(sha256sum <all.csv | cut -c1-64)" ] || fail "sha256 is not the file's"
[ "$(jq -r .bytes all.json)" = "$(wc -c <all.csv)" ] || fail "bytes are not the file's"
/usr/bin/python3 - all.csv sep.csv oct.csv <<'PY' || fail "the rows are not the customers' features and outcomes"
import csv, sys
got = list(csv.DictReader(open(sys.argv[1])))
want = {}
for f in sys.argv[2:]:
    for r in csv.DictReader(open(f)):
        want[r["customerID"]] = r
assert len(got) == 500 and {r["customerID"] for r in got} == set(want)
sep = {r["customerID"] for r in csv.DictReader(open(sys.argv[2]))}
assert all(r["customerID"] in sep for r in got[:300]), "September's rows first"
for r in got:
    for c, v in want[r["customerID"]].items():
        assert r[c].strip() == v.strip(), (r["customerID"], c, r[c], v)
PY
[ "$(jq -r .positives all.json)" = "$(grep -c ',Yes$' all.csv)" ] || fail "positives: $(jq .positives all.json)"
# the same again gives the same bytes; stdout without -o, the counts on stderr
expect 0 churn-models dataset
cmp -s out all.csv || fail "the data set on stdout differs from -o's"
grep_err "500 rows (500 labelled customers, $(jq .positives all.json) positive; 0 from no file), sha256 $(jq -r .sha256 all.json)"
# churn-train reads it as it is
expect 0 churn-train --trees 5 -o fresh.churn all.csv
[ "$(jq -r .data.sha256 out)" = "$(jq -r .sha256 all.json)" ] || fail "churn-train's data fingerprint differs"

# --days: counted back from the newest outcome (20 October); --rows: the newest
expect 0 churn-models dataset --days 10 -o oct-only.csv
jq -e '.labelled == 200 and .from == "2026-10-20T00:00:00Z"' out >/dev/null || fail "--days 10: $(cat out)"
expect 0 churn-models dataset --rows 250 -o newest.csv
jq -e '.labelled == 250 and .from == "2026-09-20T00:00:00Z"' out >/dev/null || fail "--rows 250: $(cat out)"
[ "$(tail -n +2 newest.csv | grep -c -F -f "$(cut -d, -f1 oct.csv | tail -n +2 >octids; echo octids)")" = 200 ] ||
	fail "--rows 250 does not hold October's 200"
expect 0 churn-models dataset --days 40 --rows 100 -o both.csv
jq -e '.labelled == 100' out >/dev/null || fail "--days 40 --rows 100: $(cat out)"
# the horizon: 20 days before an outcome leaves both months' predictions out
expect 0 churn-models dataset --horizon 15 -o none.csv
jq -e '.labelled == 0 and .rows == 0 and .joined == 0' out >/dev/null || fail "--horizon 15: $(cat out)"
grep_err "no labelled customers: 550 outcomes, 0 joined to a prediction"

# --with: the file's rows first, its header; labels named as asked
expect 0 churn-models dataset --with train.csv --days 10 -o with.csv
jq -e '.rows == 2200 and .with_rows == 2000 and .labelled == 200 and .with == "train.csv"' out >/dev/null ||
	fail "--with: $(cat out)"
[ "$(head -n 1 with.csv)" = "$(head -n 1 train.csv)" ] || fail "--with: the header is not the file's"
/usr/bin/python3 - with.csv train.csv <<'PY' || fail "--with: the file's rows are not first, in order"
import csv, sys
got = list(csv.reader(open(sys.argv[1])))[:2001]
want = list(csv.reader(open(sys.argv[2])))
assert [[f.strip() for f in r] for r in got] == [[f.strip() for f in r] for r in want]
PY
expect 0 churn-models dataset --target left --positive 1 --negative 0 --id cid --days 10
head -n 1 out | grep -q '^cid,.*,left$' || fail "--target, --id: $(head -n 1 out)"
tail -n +2 out | cut -d, -f21 | sort -u | tr '\n' ' ' | grep -qx '0 1 ' || fail "--positive 1 --negative 0: labels $(tail -n +2 out | cut -d, -f21 | sort -u)"

# --put: into the store under its sha256
expect 0 churn-models dataset --put
sha=$(jq -r .sha256 out)
jq -e --arg s "$sha" '.key == "datasets/\($s).csv" and .output == null' out >/dev/null || fail "--put: $(cat out)"
cmp -s "store/datasets/$sha.csv" all.csv || fail "--put: the stored object is not the data set"

# lineage: churn-push --dataset takes the summary of the data the model was trained on
expect 0 churn-models dataset -o all.csv
cp out all.json
churn-train --trees 5 -o fresh.churn all.csv >fresh.json 2>/dev/null || fail "churn-train failed"
v1=$(churn-models list --json | jq -r '.versions[0].version')
expect 0 churn-push --parent "$v1" --reason "performance check" --dataset all.json fresh.json
jq -e --arg v "$v1" --slurpfile d all.json '.lineage == {parent: $v, reason: "performance check",
	dataset: ($d[0] | {sha256, rows, bytes, labelled, positives, with_rows, with, from, to})}' out >/dev/null ||
	fail "churn-push lineage: $(jq -c .lineage out)"
expect 0 churn-models show "$(jq -r .version out)"
jq -e --arg v "$v1" '.lineage.parent == $v and .lineage.dataset.rows == 500' out >/dev/null ||
	fail "manifest lineage: $(jq -c .lineage out)"
expect 2 churn-push --dataset all.json m.churn
grep_err "--dataset: all.json: data set $(jq -r .sha256 all.json) is not the data the model was trained on"
echo '{"rows": 3}' >bad.json
expect 2 churn-push --dataset bad.json fresh.json
grep_err "--dataset: bad.json: no \"sha256\" and \"rows\""

# trouble: a with file without the label, a ragged one; options of other commands
head -n 3 train.csv | cut -d, -f1-20 >nolabel.csv
expect 2 churn-models dataset --with nolabel.csv
grep_err "churn-models: nolabel.csv:1: no target column 'Churn'"
{ head -n 2 train.csv; echo "x,y"; } >ragged.csv
expect 2 churn-models dataset --with ragged.csv
grep_err "ragged.csv:3: 2 fields, the header has 21"
expect 2 churn-models dataset --days 0
grep_err "--days: '0' is not a number from 1 to 36500"
expect 2 churn-models perf --with train.csv
expect 2 churn-models list --days 3
exit 0
