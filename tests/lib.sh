# tests/lib.sh - helpers for the shell tests; source it first:
#	. "$CHURN_TOP/tests/lib.sh"
# Each test runs in its own empty directory (the current one) with the
# programs on PATH.
set -u
PATH=$CHURN_BIN:$PATH
export PATH
LC_ALL=C
export LC_ALL

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }

# expect STATUS CMD... : run CMD, stdout to out, stderr to err, check status
expect() {
	want=$1; shift
	"$@" >out 2>err
	got=$?
	[ "$got" -eq "$want" ] || { cat err >&2; fail "'$*' exited $got, not $want"; }
}

# grep_err PATTERN : stderr of the last expect matches (fixed string)
grep_err() { grep -qF -- "$1" err || { cat err >&2; fail "stderr lacks '$1'"; }; }

# same FILE1 FILE2 : identical files (diff shown otherwise)
same() { diff -u "$1" "$2" >&2 || fail "$1 and $2 differ"; }

need_telco() { [ -r "$CHURN_TELCO" ] || skip "no Telco data at $CHURN_TELCO (set CHURN_TELCO)"; }

# A small Telco-shaped data set made by the generator
gen() { churn-gen "$@"; }
