#!/bin/sh
# churn-outcomes on a file:// store: recorded as append-only objects outside
# the index, loading the same file twice changes nothing, ids never scored
# are kept and counted, the label conventions and --positive of churn-train
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

use_file
churn-gen --rows 300 --seed 41 -o d.csv --outcomes o.csv --outcome-time 2026-10-20 ||
	fail "churn-gen failed"
SOURCE_DATE_EPOCH=1780000000 churn-train --trees 5 -o m.churn d.csv >/dev/null 2>&1 ||
	fail "churn-train failed"
expect 0 churn-push --init m.churn
# 200 of the 300 customers scored on 1 October
head -n 201 d.csv >scored.csv
expect 0 churn-predict -m m.churn --record --at 2026-10-01T09:00:00Z scored.csv
grep_err "200 predictions recorded"
[ "$(wc -l <out)" -eq 201 ] || fail "--record changed the output: $(wc -l <out) lines"
churn-predict -m m.churn scored.csv >plain.out 2>/dev/null
same plain.out out
ls store/predictions/2026-10-01/*.jsonl >/dev/null 2>&1 || fail "no prediction segment for 2026-10-01"
cp store/registry/index.json index.before
# stdin cannot be read twice; a bad row fails the record, or is left out
# with --skip-bad
expect 2 churn-predict -m m.churn --record - <scored.csv
grep_err "--record: give a file"
# (a bad number is no bad row: scored as missing, said, and recorded)
awk -F, -v OFS=, 'NR == 5 { $6 = "abc" } { print }' scored.csv >badnum.csv
expect 0 churn-predict -m m.churn --record --at 2026-10-02 badnum.csv
grep_err "badnum.csv:5: column 'tenure': 'abc' is not a number, scored as missing"
grep_err "200 predictions recorded"
rm -r store/predictions/2026-10-02
awk -F, -v OFS=, 'NR == 5 { print $1, $2; next } { print }' scored.csv >bad.csv
expect 2 churn-predict -m m.churn --record --at 2026-10-02 bad.csv
grep_err "bad.csv:5: ragged row: 2 fields"
[ -d store/predictions/2026-10-02 ] && fail "a failed --record left predictions"
expect 1 churn-predict -m m.churn --record --skip-bad --at 2026-10-02 bad.csv
grep_err "199 predictions recorded"
rm -r store/predictions/2026-10-02

expect 0 churn-outcomes --json o.csv
grep_err "o.csv: 300 rows"
python3 - out <<'PY' || fail "first load: $(cat out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["rows"], r["recorded"], r["duplicates"], r["unmatched"]) == (300, 300, 0, 100), r
PY
same index.before store/registry/index.json
ls store/outcomes/*.jsonl >objects1 || fail "no outcome object in the store"
[ "$(wc -l <objects1)" -eq 1 ] || fail "$(wc -l <objects1) outcome objects after one load"
cat store/outcomes/*.jsonl | sort >content1

# the same file again: nothing new, nothing written
expect 0 churn-outcomes --json o.csv
python3 - out <<'PY' || fail "second load: $(cat out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["rows"], r["recorded"], r["duplicates"], r["unmatched"]) == (300, 0, 300, 100), r
PY
ls store/outcomes/*.jsonl >objects2
same objects1 objects2
cat store/outcomes/*.jsonl | sort >content2
same content1 content2

# without a time column the time is --time (default today): a new key, once
cut -d, -f1,2 o.csv | head -n 11 >notime.csv
expect 0 churn-outcomes --json --time 2026-11-01 notime.csv
grep -q '"recorded":10,' out || fail "notime.csv: $(cat out)"
expect 0 churn-outcomes --json --time 2026-11-01 notime.csv
grep -q '"recorded":0,"duplicates":10' out || fail "notime.csv again: $(cat out)"
# (customers never scored, so that the join below does not depend on today)
{ echo customerID,outcome; sed -n '252,261p' o.csv | cut -d, -f1,2; } >today.csv
expect 0 churn-outcomes --json today.csv
grep -q '"recorded":10,"duplicates":0,"unmatched":10' out || fail "today.csv: $(cat out)"
expect 0 churn-outcomes --json today.csv
grep -q '"recorded":0,' out || fail "today.csv again: $(cat out)"

# JSON lines, other label conventions, a key twice in one file
printf '%s\n' '{"id":"A-1","outcome":true,"time":"2026-10-21"}' \
	'{"id":"A-2","outcome":0,"time":"2026-10-21T10:00:00Z"}' \
	'{"id":"A-3","outcome":"Y","time":"2026-10-21"}' \
	'{"id":"A-1","outcome":"yes","time":"2026-10-21"}' >o.jsonl
expect 0 churn-outcomes --json o.jsonl
python3 - out <<'PY' || fail "o.jsonl: $(cat out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert (r["rows"], r["positives"], r["recorded"], r["duplicates"], r["unmatched"]) == (4, 3, 3, 1, 4), r
PY
# --positive: that label is churn, any other value is not
printf 'id,outcome,time\nP-1,cancelled,2026-10-22\nP-2,renewed,2026-10-22\n' >pos.csv
expect 2 churn-outcomes pos.csv
grep_err "pos.csv:2: column 'outcome': 'cancelled' is not a label"
expect 0 churn-outcomes --json --positive cancelled pos.csv
grep -q '"positives":1,"recorded":2' out || fail "--positive: $(cat out)"

# what was recorded joins the predictions: the 200 scored customers of
# o.csv, and notime.csv's 10 (scored) again on 1 November
expect 0 churn-models perf --json --by all
python3 - out <<'PY' || fail "perf: $(head -c 300 out)"
import json, sys
r = json.load(open(sys.argv[1]))
v = r["versions"]
assert (r["outcomes"], r["joined"], r["unjoined"]) == (325, 210, 115), r
assert len(v) == 1 and v[0]["all"]["rows"] == 210, v
PY
exit 0
