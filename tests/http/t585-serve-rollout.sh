#!/bin/sh
# churn-serve follows the registry's rollout: shadow answers are the
# champion's byte for byte with both scores in the window; a canary of 10 %
# sends the customers the documented hash picks (recomputed here in
# Python) to the challenger, the same ones again after a reload; CSV rows
# carry the version; GET /rollout and /metrics count per version; off
# leaves the champion alone
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v python3 >/dev/null || skip "python3 is not installed"

CHURN_STORE=$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
model a.model 1500 1
sleep 1
model b.model 1500 2
va=$(jq -r .version a.model.json) vb=$(jq -r .version b.model.json)
churn-push --init --alias champion a.model >/dev/null || fail "churn-push a failed"
churn-push --alias challenger b.model >/dev/null || fail "churn-push b failed"

# 20,000 customers with distinct ids, as 20 JSON arrays of 1,000
churn-gen --rows 20000 --seed 5 -o c.csv || fail "churn-gen failed"
awk -F, 'NR > 1 { print "c" NR - 1 }' c.csv >ids
[ "$(sort -u ids | wc -l)" -eq 20000 ] || fail "ids are not distinct"
python3 - c.csv <<'PY' || fail "cannot split the customers"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for k in range(20):
    part = []
    for i, r in enumerate(rows[k * 1000:(k + 1) * 1000]):
        r["customerID"] = "c%d" % (k * 1000 + i + 1)
        del r["Churn"]
        part.append(r)
    json.dump(part, open("part%02d.json" % k, "w"))
    if k == 0:
        w = csv.DictWriter(open("part00.csv", "w", newline=""), fieldnames=list(part[0]))
        w.writeheader()
        w.writerows(part)
PY
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model champion --refresh-interval 3600 \
	--window-rows 100000
post() { req POST /predict -H 'Content-Type: application/json' --data-binary "@$1"; want 200; }

# no rollout: the champion alone
post part00.json; cp body plain.json
req POST /predict -H 'Content-Type: text/csv' --data-binary @part00.csv; want 200
cp body plain.csv
head -1 plain.csv | grep -qx 'customerID,churn_probability,churn' || fail "CSV header $(head -1 plain.csv)"
req GET /rollout; want 200; jqok '.rollout.mode == "off" and (.versions | length) == 1 and .psi == null'

# shadow: the same bytes, both scores in the window for every row
CHURN_ACTOR=t585 churn-models rollout set challenger --shadow --reason "t585 shadow" >/dev/null ||
	fail "rollout set --shadow failed"
req POST /reload -H "$auth"; want 200
req GET /rollout; want 200; jqok '.rollout.mode == "shadow" and .versions[1].model_version == "'"$vb"'"'
# the window is written off the request path: the 2000 plain rows first
i=0
while [ "$(cat st/window.jsonl 2>/dev/null | wc -l)" -lt 2000 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
n0=$(wc -l <st/window.jsonl)
[ "$n0" -eq 2000 ] || fail "$n0 window rows before shadow, not 2000"
post part00.json; cmp -s body plain.json || fail "shadow answers differ from the champion's alone"
req POST /predict -H 'Content-Type: text/csv' --data-binary @part00.csv; want 200
cmp -s body plain.csv || fail "shadow CSV answer differs from the champion's alone"
i=0
while [ "$(cat st/window.jsonl 2>/dev/null | wc -l)" -lt $((n0 + 2000)) ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
tail -n +$((n0 + 1)) st/window.jsonl >shadow.jsonl
n=$(jq -c 'select(.model_version == "'"$va"'" and .challenger_version == "'"$vb"'"
	and (.churn_probability | type) == "number" and (.challenger_probability | type) == "number")' shadow.jsonl | wc -l)
[ "$n" -eq 2000 ] || fail "$n of 2000 shadow window rows have both scores"
req GET /rollout; want 200; jqok '.versions[1].rows == 2000 and (.psi | type) == "number"'
echo "shadow: 2000 rows, PSI champion vs challenger $(jq .psi body)"

# canary 10 %: the hash's choice, exactly
churn-models rollout set challenger --canary 10 --reason "t585 canary" >out.json ||
	fail "rollout set --canary failed"
rid=$(jq .id out.json)
req POST /reload -H "$auth"; want 200
: >got
for f in part*.json; do
	post "$f"
	jq -r '.[] | .customerID + " " + .model_version' body >>got
done
python3 - "$rid" <<'PY' >want || fail "python failed"
import hashlib, sys
rid = int(sys.argv[1])
for i in range(1, 20001):
    c = "c%d" % i
    h = int(hashlib.sha256(b"%d:%s" % (rid, c.encode())).hexdigest()[:16], 16) >> 11
    print(c, "B" if h / 2**53 < 0.10 else "A")
PY
sed "s/ $va\$/ A/; s/ $vb\$/ B/" got >got.ab
same want got.ab
nb=$(grep -c ' B$' got.ab)
echo "canary 10%: $nb of 20000 customers to the challenger (rollout $rid)"
[ "$nb" -ge 1800 ] && [ "$nb" -le 2200 ] || fail "challenger share $nb of 20000 is outside 10 % +- 1 pp"
# the same 1,000 again, and after a reload: the same versions
head -1000 got >first
post part00.json; jq -r '.[] | .customerID + " " + .model_version' body >again
same first again
req POST /reload -H "$auth"; want 200
post part00.json; jq -r '.[] | .customerID + " " + .model_version' body >again
same first again
# CSV: each row names its version, the same ones
req POST /predict -H 'Content-Type: text/csv' --data-binary @part00.csv; want 200
head -1 body | grep -qx 'customerID,churn_probability,churn,model_version' || fail "canary CSV header $(head -1 body)"
awk -F, 'NR > 1 { print $1 " " $4 }' body >csvgot
same first csvgot
req GET /rollout; want 200
jqok '.rollout.mode == "canary" and .rollout.share == 10 and .observed_share > 5 and .observed_share < 15'
req GET /metrics; want 200
grep -q "^churn_rollout_share{mode=\"canary\",rollout=\"$rid\"} 10\$" body || fail "/metrics lacks the share"
grep -q "^churn_version_requests_total{role=\"challenger\",version=\"$vb\"} [1-9]" body ||
	fail "/metrics lacks the challenger's requests"
grep -q "^churn_version_score_count{role=\"champion\",version=\"$va\"} [1-9]" body ||
	fail "/metrics lacks the champion's scores"

# off: the champion alone again, the CSV as before
churn-models rollout off --reason "t585 done" >/dev/null || fail "rollout off failed"
req POST /reload -H "$auth"; want 200
post part00.json; cmp -s body plain.json || fail "answers after rollout off differ"
req POST /predict -H 'Content-Type: text/csv' --data-binary @part00.csv; want 200
cmp -s body plain.csv || fail "CSV after rollout off differs"
churn-models history challenger --json >h.json || fail "history failed"
[ "$(jq '[.history[] | select(.action == "rollout")] | length' h.json)" -eq 3 ] ||
	fail "history lacks the three rollout changes"
exit 0
