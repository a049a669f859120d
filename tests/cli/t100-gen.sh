#!/bin/sh
# churn-gen: header, row count, determinism, churn rate, --shift, bad options
. "$CHURN_TOP/tests/lib.sh"

header=customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn

expect 0 churn-gen --version
grep -qx "churn-gen [0-9][0-9.]*" out || fail "--version printed '$(cat out)'"
expect 0 churn-gen --help
grep -q "usage: churn-gen" out || fail "--help lacks the synopsis"

# default: 7043 rows plus the header, the header of the real file
expect 0 churn-gen
[ "$(head -n 1 out)" = "$header" ] || fail "header is '$(head -n 1 out)'"
[ "$(wc -l <out)" -eq 7044 ] || fail "default gives $(wc -l <out) lines, not 7044"
[ -s err ] && fail "stderr not empty: $(cat err)"

# every row has 21 fields, distinct IDs shaped like 7590-VHVEG, known values
awk -F, 'NR > 1 && NF != 21 { print "line " NR ": " NF " fields"; exit 1 }' out ||
	fail "a row has the wrong number of fields"
tail -n +2 out | cut -d, -f1 | grep -vxE '[0-9]{4}-[A-Z]{5}' | head -n 1 >bad
[ -s bad ] && fail "customer ID '$(cat bad)' is not like 7590-VHVEG"
[ "$(tail -n +2 out | cut -d, -f1 | sort -u | wc -l)" -eq 7043 ] ||
	fail "customer IDs are not distinct"
awk -F, 'NR > 1 {
	if ($9 == "No" && $10 != "No internet service") { print NR ": add-on without internet"; exit 1 }
	if ($9 != "No" && $10 == "No internet service") { print NR ": no internet service with internet"; exit 1 }
	if ($7 == "No" && $8 != "No phone service") { print NR ": multiple lines without phone"; exit 1 }
	if (($6 == 0) != ($20 == " ")) { print NR ": TotalCharges blank iff tenure 0"; exit 1 }
	if ($6 < 0 || $6 > 72) { print NR ": tenure " $6; exit 1 }
	if ($19 < 18 || $19 > 150) { print NR ": MonthlyCharges " $19; exit 1 }
	if ($21 != "Yes" && $21 != "No") { print NR ": Churn " $21; exit 1 }
}' out >bad || fail "inconsistent row: $(cat bad)"
cut -d, -f9 out | sort -u | tr '\n' '|' >v
[ "$(cat v)" = "DSL|Fiber optic|InternetService|No|" ] || fail "InternetService values: $(cat v)"
cut -d, -f16 out | sort -u | tr '\n' '|' >v
[ "$(cat v)" = "Contract|Month-to-month|One year|Two year|" ] || fail "Contract values: $(cat v)"
mv out default.csv

# --rows, -o, determinism and seeds
expect 0 churn-gen --rows 3
[ "$(wc -l <out)" -eq 4 ] || fail "--rows 3 gives $(wc -l <out) lines"
expect 0 churn-gen --rows 0
[ "$(cat out)" = "$header" ] || fail "--rows 0 is not the header alone"
expect 0 churn-gen --rows 20000 --seed 42 -o a.csv
[ -s out ] && fail "-o also wrote to stdout"
expect 0 churn-gen --seed 42 --rows 20000
same a.csv out
expect 0 churn-gen --seed 43 --rows 20000
cmp -s a.csv out && fail "--seed 43 gives the same data as --seed 42"
for f in a.csv.tmp.* .a.csv*; do
	[ -e "$f" ] && fail "temporary file $f left behind"
done

# churn rate near the real 26.5%, and it depends on contract and fiber the way
# the real data does
awk -F, 'NR > 1 { n++; c += $21 == "Yes"
	if ($16 == "Month-to-month") { m++; mc += $21 == "Yes" }
	if ($16 == "Two year") { t++; tc += $21 == "Yes" }
	if ($9 == "Fiber optic") { f++; fc += $21 == "Yes" }
	if ($9 == "DSL") { d++; dc += $21 == "Yes" } }
	END { printf "%.4f %.4f %.4f %.4f %.4f\n", c / n, mc / m, tc / t, fc / f, dc / d }' a.csv >rates
read -r all m2m two fiber dsl <rates
echo "churn rate $all, month-to-month $m2m, two year $two, fiber $fiber, dsl $dsl"
awk -v r="$all" 'BEGIN { exit !(r > 0.23 && r < 0.30) }' || fail "churn rate $all not in (0.23, 0.30)"
awk -v a="$m2m" -v b="$two" 'BEGIN { exit !(a > 4 * b) }' || fail "month-to-month does not churn more"
awk -v a="$fiber" -v b="$dsl" 'BEGIN { exit !(a > 1.5 * b) }' || fail "fiber does not churn more"

# --shift: tenure roughly halved, contracts towards month-to-month, more fiber
expect 0 churn-gen --rows 20000 --seed 42 --shift -o s.csv
[ "$(head -n 1 s.csv)" = "$header" ] || fail "--shift changes the header"
stats() {
	awk -F, 'NR > 1 { n++; t += $6; m += $16 == "Month-to-month"; f += $9 == "Fiber optic"; c += $19 }
		END { printf "%.3f %.4f %.4f %.3f\n", t / n, m / n, f / n, c / n }' "$1"
}
read -r t0 m0 f0 c0 <<EOT
$(stats a.csv)
EOT
read -r t1 m1 f1 c1 <<EOT
$(stats s.csv)
EOT
echo "tenure $t0 -> $t1, month-to-month $m0 -> $m1, fiber $f0 -> $f1, charges $c0 -> $c1"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b < 0.6 * a) }' || fail "--shift: tenure $t0 -> $t1"
awk -v a="$m0" -v b="$m1" 'BEGIN { exit !(b > a + 0.1) }' || fail "--shift: month-to-month $m0 -> $m1"
awk -v a="$f0" -v b="$f1" 'BEGIN { exit !(b > a + 0.1) }' || fail "--shift: fiber $f0 -> $f1"
awk -v a="$c0" -v b="$c1" 'BEGIN { exit !(b > a * 1.1) }' || fail "--shift: charges $c0 -> $c1"
# L1 distance of the contract mix, as churn-drift measures categorical drift
for f in a.csv s.csv; do
	cut -d, -f16 "$f" | tail -n +2 | sort | uniq -c | awk '{ print $2 "-" $3, $1 }' >"$f.mix"
done
l1=$(join a.csv.mix s.csv.mix | awk '{ d = $2 / 20000 - $3 / 20000; s += d < 0 ? -d : d } END { printf "%.3f", s }')
echo "contract L1 $l1"
awk -v l="$l1" 'BEGIN { exit !(l > 0.2) }' || fail "--shift: contract L1 $l1 too small"

# bad options and arguments: exit 2 with a message, nothing on stdout
expect 2 churn-gen --rows abc
grep_err "churn-gen: --rows: 'abc' is not a number from 0 to 118813760000"
[ -s out ] && fail "output despite a bad option"
expect 2 churn-gen --rows -5
grep_err "--rows: '-5' is not a number from 0 to"
expect 2 churn-gen --seed 1x
grep_err "--seed: '1x' is not a number"
expect 2 churn-gen --bogus
grep_err "usage: churn-gen"
expect 2 churn-gen extra
grep_err "unexpected argument 'extra'"
expect 2 churn-gen -o /nonexistent/dir/x.csv --rows 5
grep_err "/nonexistent/dir/x.csv"

# a full disk must not end in exit 0
if [ -w /dev/full ]; then
	churn-gen --rows 1000 >/dev/full 2>err && fail "writing to /dev/full exited 0"
	grep -q "churn-gen: " err || fail "no message for a failed write"
fi
# a closed pipe ends it by SIGPIPE, as churn-gen(1) says: status 141, no message
{ churn-gen --rows 1000000 2>err; echo $? >status; } | head -n 1 >/dev/null
[ "$(cat status)" -eq 141 ] || fail "churn-gen into a closed pipe exited $(cat status), not 141"
[ -s err ] && { cat err >&2; fail "churn-gen into a closed pipe says something"; }
exit 0
