#!/bin/sh
# one reader: churn-train, churn-predict, churn-drift and churn-serve's CSV
# route read the same records from the same bytes (LF, CRLF, CR line ends)
# and refuse a duplicate header name, a NUL byte and a header followed by
# bytes but no rows with one message each
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

churn-gen --rows 400 --seed 11 -o lf.csv || fail "churn-gen failed"
churn-train -o m.churn --trees 10 lf.csv >/dev/null 2>train.err ||
    { cat train.err >&2; fail "churn-train failed"; }
sed 's/$/\r/' lf.csv >crlf.csv
tr '\n' '\r' <lf.csv >cr.csv
start_serve --model m.churn

# drift F : churn-drift on F, status 0 or 1 (drift found) expected
drift() {
	churn-drift -m m.churn "$1" >out 2>err
	[ $? -le 1 ] || { cat err >&2; fail "churn-drift $1 failed"; }
}

# the same rows, the same scores, whatever the line ends
echo 400 >want.rows
for f in lf crlf cr; do
	expect 0 churn-train -o $f.model --trees 5 $f.csv
	jq .data.rows out >$f.train
	same want.rows $f.train
	drift $f.csv
	jq .rows.current out >$f.drift
	same want.rows $f.drift
	expect 0 churn-predict -m m.churn $f.csv
	mv out $f.pred
	req POST /predict -H 'Content-Type: text/csv' --data-binary @$f.csv
	want 200
	mv body $f.serve
	same lf.pred $f.pred
	same lf.pred $f.serve
done
[ "$(wc -l <lf.pred)" -eq 401 ] || fail "churn-predict gave $(wc -l <lf.pred) lines, not 401"

# and the same line numbers: a bad number on line 6 of a CR-only file
awk -F, -v OFS=, 'NR == 6 { $6 = "abc" } { print }' lf.csv | tr '\n' '\r' >badcr.csv
# (churn-predict and churn-serve score it as missing, as training takes
# it, churn-drift counts it as missing, and each says so)
expect 0 churn-predict -m m.churn badcr.csv
grep_err "churn-predict: badcr.csv:6: column 'tenure': 'abc' is not a number, scored as missing"
churn-drift -m m.churn badcr.csv >out 2>err
[ $? -le 1 ] || { cat err >&2; fail "churn-drift badcr.csv failed"; }
grep_err "churn-drift: badcr.csv:6: column 'tenure': 'abc' is not a number, counted as missing"
req POST /predict -H 'Content-Type: text/csv' --data-binary @badcr.csv
want 200
grep -qi "^warning: 299 churn-serve \"request body:6: column 'tenure': 'abc' is not a number, scored as missing" hdr ||
	fail "churn-serve: no Warning naming line 6: $(cat hdr)"

# refused F MSG : every tool refuses F with "F<MSG>" (churn-serve with
# "request body<MSG>", 400)
refused() {
	expect 2 churn-train -o no.model "$1"
	grep_err "churn-train: $1$2"
	expect 2 churn-predict -m m.churn "$1"
	grep_err "churn-predict: $1$2"
	[ ! -s out ] || [ "$(wc -l <out)" -le 1 ] || fail "churn-predict scored rows of $1"
	expect 2 churn-drift -m m.churn "$1"
	grep_err "churn-drift: $1$2"
	req POST /predict -H 'Content-Type: text/csv' --data-binary @"$1"
	want 400
	jq -e --arg m "request body$2" '.error == $m' body >/dev/null ||
	    fail "churn-serve: $1: $(cat body), not 'request body$2'"
}

# a name twice in the header (an extra column named like a feature)
awk 'NR == 1 { print $0 ",gender"; next } { print $0 ",x" }' lf.csv >dup.csv
refused dup.csv ":1: column 'gender' appears twice"

# a NUL byte in a categorical value and in a numeric one (line 4)
for col in 2:gender 6:tenure; do
	n=${col%%:*} name=${col#*:}
	awk -F, -v OFS=, -v n="$n" 'NR == 4 { $n = substr($n, 1, 1) "@" substr($n, 2) } { print }' lf.csv |
	    tr '@' '\000' >nul-$name.csv
	refused nul-$name.csv ":4: column '$name': a NUL byte in the value"
done

# a header, then bytes that give no rows (blank lines); LF, CRLF and CR
head -n 1 lf.csv >blank.csv
printf '\n\n' >>blank.csv
refused blank.csv ": no data rows after the header"
head -n 1 crlf.csv >blankcrlf.csv
printf '\r\n\r\n' >>blankcrlf.csv
refused blankcrlf.csv ": no data rows after the header"
head -n 1 lf.csv | tr '\n' '\r' >blankcr.csv
printf '\r' >>blankcr.csv
refused blankcr.csv ": no data rows after the header"

# a header alone stays what it was: rows of none for churn-predict
head -n 1 lf.csv >header.csv
expect 0 churn-predict -m m.churn header.csv
[ "$(cat out)" = "customerID,churn_probability,churn" ] || fail "header only: $(cat out)"
exit 0
