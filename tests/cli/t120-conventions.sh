#!/bin/sh
# one convention for every program: --help lists every option of the man
# page's SYNOPSIS on stdout (exit 0, the write checked), -V/--version,
# -q and -v, usage errors exit 2 on stderr, bad numbers in one form
. "$CHURN_TOP/tests/lib.sh"

progs="churn-gen churn-train churn-predict churn-drift churn-push churn-models churn-serve churn-outcomes"

# synopsis_opts PROG: the options the SYNOPSIS of PROG.1 shows, one a line
synopsis_opts() {
	sed -n '/^\.Sh SYNOPSIS/,/^\.Sh DESCRIPTION/p' "$CHURN_TOP/man/$1.1" |
	    grep -o 'Fl [-a-z0-9|]*\( | -[a-z-]*\)*' |
	    sed 's/^Fl //; s/ | / /g' | tr ' ' '\n' | while read -r w; do
		case $w in
		-*) echo "-$w" ;;            # Fl -json: --json
		'|'|'') ;;
		*) echo "$w" | sed 's/./-&\n/g' | grep . ;;   # Fl qv: -q, -v
		esac
	done | sort -u
}

for p in $progs; do
	expect 0 "$p" --help
	[ -s err ] && fail "$p --help wrote to stderr: $(cat err)"
	head -n 1 out | grep -q "^usage: $p" || fail "$p --help does not start with the synopsis"
	grep -q '^options:' out || fail "$p --help has no option list"
	n=0
	for o in $(synopsis_opts "$p"); do
		n=$((n + 1))
		grep -q -- "$o\\b" out || fail "$p --help lacks $o (in its SYNOPSIS)"
	done
	[ "$n" -ge 3 ] || fail "$p: only $n options read from the SYNOPSIS"
	for o in -q --quiet -v --verbose -V --version -h --help; do
		grep -q -- "$o\\b" out || fail "$p --help lacks $o"
	done
	# a program that reads the environment says which variables
	if grep -q '^\.Sh ENVIRONMENT' "$CHURN_TOP/man/$p.1"; then
		grep -q '^environment:' out || fail "$p --help lists no environment"
		for v in $(sed -n '/^\.Sh ENVIRONMENT/,/^\.Sh /p' "$CHURN_TOP/man/$p.1" |
		    grep -o 'Ev [A-Z_]*' | sed 's/Ev //' | sort -u); do
			grep -q "$v" out || fail "$p --help lacks the variable $v"
		done
	fi
	cp out help.txt
	expect 0 "$p" -h
	same help.txt out
	# the help goes through a checked write: a full disk is trouble
	if [ -w /dev/full ]; then
		"$p" --help >/dev/full 2>err && fail "$p --help >/dev/full exited 0"
		grep -q "$p: write" err || fail "$p --help >/dev/full: $(cat err)"
	fi
	for v in -V --version; do
		expect 0 "$p" $v
		grep -qx "$p [0-9][0-9.]*" out || fail "$p $v printed '$(cat out)'"
	done
	expect 0 "$p" -q --version
	expect 0 "$p" -v --version
	# usage errors: stderr, exit 2, nothing on stdout
	expect 2 "$p" --no-such-option
	grep_err "usage: $p"
	grep_err "try '$p --help'"
	[ -s out ] && fail "$p: a usage error wrote to stdout"
done

churn-gen --rows 400 --seed 3 -o d.csv || fail "churn-gen failed"
churn-train -q --trees 3 -o m.churn d.csv >/dev/null || fail "churn-train failed"

# a bad number: one message form in every program
bad() {
	p=$1 opt=$2
	shift 2
	expect 2 "$p" "$@"
	grep -q "^$p: $opt: 'x1' is not a number" err ||
	    { cat err >&2; fail "$p $*: not the one message form"; }
	[ -s out ] && fail "$p $*: output despite a bad number"
	return 0
}
bad churn-gen --rows --rows x1
bad churn-gen --seed --seed x1
bad churn-train --trees --trees x1
bad churn-train --holdout --holdout x1
bad churn-predict --jobs -m m.churn --jobs x1
bad churn-predict --threshold -m m.churn --threshold x1
bad churn-drift --jobs -m m.churn --jobs x1
bad churn-drift --bins -m m.churn --bins x1 d.csv
bad churn-models --count drift -n x1
bad churn-serve --threads --threads x1
bad churn-serve --drift-timeout --drift-timeout x1
bad churn-serve --body-limit --body-limit x1

# -q and -v do what they say, on real work
expect 0 churn-gen -v --rows 5
grep_err "churn-gen: 5 rows written to stdout"
expect 0 churn-gen -q --rows 5
[ -s err ] && fail "churn-gen -q wrote to stderr"
expect 0 churn-train -v --trees 3 -o m.churn d.csv
grep_err "400 rows read in"
expect 0 churn-train -q --trees 3 -o m.churn d.csv
[ -s err ] && fail "churn-train -q wrote to stderr"
expect 0 churn-predict -v -m m.churn d.csv
grep_err "churn-predict: 400 rows scored in"
# an unseen category is a warning, that -q leaves out
sed '2s/,Male,/,Robot,/' d.csv >u.csv
expect 0 churn-predict -m m.churn u.csv
grep_err "unseen in training"
expect 0 churn-predict -q -m m.churn u.csv
[ -s err ] && fail "churn-predict -q wrote to stderr: $(cat err)"
churn-drift -v -m m.churn d.csv >out 2>err
[ $? -le 1 ] || fail "churn-drift -v failed: $(cat err)"
grep_err "churn-drift: 400 rows of d.csv read in"
churn-drift -q -m m.churn d.csv >out 2>err
[ $? -le 1 ] || fail "churn-drift -q failed: $(cat err)"
[ -s err ] && fail "churn-drift -q wrote to stderr: $(cat err)"
CHURN_STORE=file://$PWD/store
export CHURN_STORE
unset CHURN_DATABASE_URL
expect 0 churn-push -v --init m.churn
grep_err "pushed to file://$PWD/store, registered in"
expect 0 churn-models -v list
grep_err "churn-models: store file://$PWD/store"
expect 0 churn-models -q list
[ -s err ] && fail "churn-models -q wrote to stderr"
exit 0
