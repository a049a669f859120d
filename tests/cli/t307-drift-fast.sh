#!/bin/sh
# churn-drift counts a regular unquoted file straight from its text on
# threads; the report is the one the full CSV reader gives (a pipe, a
# quoted field), with missing values, unseen categories, spaces, CRLF, a
# byte-order mark, blank lines, no last line end, and errors in mid-file
. "$CHURN_TOP/tests/lib.sh"

gen --rows 3000 --seed 21 -o train.csv || fail "churn-gen failed"
churn-train --trees 20 -o m.churn train.csv >/dev/null 2>train.err ||
	{ cat train.err >&2; fail "churn-train failed"; }
# 60,000 rows: several 4 MiB blocks of the fast path
gen --rows 60000 --seed 22 --shift -o raw.csv || fail "churn-gen failed"
awk -F, -v OFS=, 'BEGIN { srand(5) } NR == 1 { print; next } {
	for (i = 2; i <= 20; i++) {
		r = rand()
		if (r < 0.02) $i = ""
		else if (r < 0.03) $i = "NA"
		else if (r < 0.035) $i = "?"
		else if (r < 0.045 && $i ~ /^[A-Za-z]/) $i = "New" int(rand() * 40)
		else if (r < 0.05) $i = " " $i "\t"
	}
	print }' raw.csv >cur.csv
grep -q ',New[0-9]' cur.csv || fail "no unseen category in cur.csv"

# report NAME ARGS... : the report of churn-drift ARGS without its time
report() {
	name=$1; shift
	churn-drift -m m.churn "$@" >"$name.json" 2>"$name.err"
	[ $? -le 1 ] || { cat "$name.err" >&2; fail "churn-drift $* failed"; }
	sed 's/"time":"[^"]*"//' "$name.json" >"$name.cmp"
}

cat cur.csv | report pipe -
for j in 1 3; do
	report file$j --jobs $j cur.csv
	same pipe.cmp file$j.cmp
done
# a quoted field sends the file to the full reader: the same counts
awk -F, -v OFS=, 'NR == 30000 { $2 = "\"" $2 "\"" } 1' cur.csv >quoted.csv
grep -q '"' quoted.csv || fail "no quote in quoted.csv"
report quoted quoted.csv
same pipe.cmp quoted.cmp
sed 's/$/\r/' cur.csv >crlf.csv
report crlf crlf.csv
same pipe.cmp crlf.cmp
{ printf '\357\273\277'; head -1 cur.csv; echo; tail -n +2 cur.csv; printf '  \t\n'; } >bom.csv
report bom bom.csv
same pipe.cmp bom.cmp
head -c -1 cur.csv >noeol.csv
report noeol noeol.csv
same pipe.cmp noeol.cmp
for o in --no-prediction "--predict-sample 0" "--reference train.csv"; do
	cat cur.csv | report opipe $o -
	report ofile $o cur.csv
	same opipe.cmp ofile.cmp
done

# errors past the first blocks name their line, as the full reader does
awk -F, -v OFS=, 'NR == 45000 { $6 = "12x" } 1' cur.csv >bad.csv
churn-drift -m m.churn bad.csv >out 2>err
[ $? -le 1 ] || { cat err >&2; fail "churn-drift bad.csv failed"; }
grep_err "bad.csv:45000: column 'tenure': '12x' is not a number, counted as missing (1 row so)"
awk -F, -v OFS=, 'NR == 50000 { $3 = "" ; $0 = $0 ",x" } 1' cur.csv >wide.csv
expect 2 churn-drift -m m.churn wide.csv
grep_err "wide.csv:50000: ragged row: 22 fields, the header has 21"
exit 0
