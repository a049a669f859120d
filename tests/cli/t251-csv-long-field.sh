#!/bin/sh
# a CSV with one 10 MB field is read (or refused with a message) in time
# linear in its size: libcsv's buffer must not grow by a fixed small step,
# which under ASan took over 120 s.  The times are printed; the bound is
# only against a hang.
. "$CHURN_TOP/tests/lib.sh"

churn-gen --rows 300 --seed 7 -o d.csv || fail "churn-gen failed"
churn-train --trees 3 -o m.churn d.csv >/dev/null 2>&1 || fail "churn-train failed"
big() { head -c 10000000 /dev/zero | tr '\0' "$1"; }
# row 2: a 10 MB gender (a category); row 3: a 10 MB quoted MonthlyCharges
# of digits
{
	head -n 1 d.csv
	sed -n 2p d.csv | cut -d, -f1 | tr -d '\n'
	printf ','
	big x
	printf ','
	sed -n 2p d.csv | cut -d, -f3-
	sed -n 3p d.csv | cut -d, -f1-18 | tr -d '\n'
	printf ',"'
	big 7
	printf '",'
	sed -n 3p d.csv | cut -d, -f20-
	sed -n '4,$p' d.csv
} >long.csv
[ "$(wc -c <long.csv)" -gt 20000000 ] || fail "long.csv is $(wc -c <long.csv) bytes"

# run LABEL CMD...: CMD under a 60 s hang bound; exit 0 or 1 (rows skipped,
# drift), or exit 2 with a message naming the line; the time printed
run() {
	label=$1
	shift
	t0=$(date +%s.%N)
	timeout 60 "$@" >out 2>err
	rc=$?
	t1=$(date +%s.%N)
	echo "$label: exit $rc in $(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }") s"
	[ $rc -eq 124 ] && fail "$label: no answer in 60 s on a 10 MB field"
	case $rc in
	0 | 1) ;;
	2) grep -q "\.csv:[23]" err || { cat err >&2; fail "$label: exit 2 without naming the line"; } ;;
	*) cat err >&2; fail "$label: exit $rc on a 10 MB field" ;;
	esac
}
run churn-train churn-train --trees 3 -o long.churn long.csv
sed 3d long.csv >cat.csv
run "churn-train (a 10 MB category)" churn-train --trees 3 -o long.churn cat.csv
run churn-predict churn-predict -m m.churn --skip-bad long.csv
run churn-drift churn-drift -m m.churn long.csv
exit 0
