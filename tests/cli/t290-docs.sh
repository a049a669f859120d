#!/bin/sh
# every program: --help, --version, a man page; every man page lint-clean
. "$CHURN_TOP/tests/lib.sh"

command -v mandoc >/dev/null || fail "mandoc is not installed (scripts/install-deps)"
for m in "$CHURN_TOP"/man/*.[157]; do
	mandoc -T lint -W warning "$m" >lint 2>&1 || { cat lint >&2; fail "mandoc lint: $m"; }
done
for p in "$CHURN_BIN"/churn-*; do
	n=$(basename "$p")
	[ -f "$CHURN_TOP/man/$n.1" ] || fail "$n has no man page"
	"$p" --version > out 2>&1 || fail "$n --version exits non-zero"
	grep -q "^$n [0-9]" out || fail "$n --version: $(cat out)"
	"$p" --help > out 2>&1
	[ $? -le 2 ] && grep -qi "usage" out || fail "$n --help prints no usage"
	# every long option in the usage text is documented in the man page
	for opt in $(grep -o -- '--[a-z][a-z0-9-]*' out | sort -u); do
		grep -q -- "Fl -${opt#--}" "$CHURN_TOP/man/$n.1" ||
			grep -q -- "Fl ${opt#-}" "$CHURN_TOP/man/$n.1" ||
			fail "$n: $opt is not in $n.1"
	done
done
exit 0
