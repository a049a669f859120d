#!/bin/sh
# progress on stderr when it is a terminal, for the long read, training
# and scoring; never when it is not (a file, a pipe), nor with -q
. "$CHURN_TOP/tests/lib.sh"

command -v script >/dev/null || skip "no script(1) (util-linux) to give stderr a terminal"

churn-gen --rows 3000 --seed 4 -o d.csv || fail "churn-gen failed"
churn-train -q --trees 5 -o m.churn d.csv >/dev/null || fail "churn-train failed"

# slow PROG ARGS: PROG reading d.csv through a pipe that pauses for a
# second halfway, so that the progress (drawn five times a second) shows
# whatever the machine's speed; stdout to PROG.out
slow() {
	p=$1
	shift
	cat >"$p.sh" <<EOS
{ head -n 1500 d.csv; sleep 1; tail -n +1501 d.csv; } | $p $* >$p.out
EOS
}

# terminal: script(1) gives the program a pty for stderr; tty.log gets it
on_tty() { script -qec "sh $1.sh" "$1.tty" </dev/null >/dev/null || fail "$1 failed on a terminal: $(cat "$1.tty")"; }

slow churn-predict -m m.churn
on_tty churn-predict
grep -aq 'churn-predict: [0-9]* rows, [0-9]* rows/s' churn-predict.tty ||
    fail "no progress from churn-predict on a terminal: $(cat -v churn-predict.tty)"
cp churn-predict.out pred-tty.csv
slow churn-train --trees 5 -o m2.churn
on_tty churn-train
grep -aq 'churn-train: reading for [0-9]* s' churn-train.tty ||
    fail "no progress from churn-train's read on a terminal: $(cat -v churn-train.tty)"
slow churn-drift -m m.churn
on_tty churn-drift
grep -aq 'churn-drift: reading for [0-9]* s' churn-drift.tty ||
    fail "no progress from churn-drift on a terminal: $(cat -v churn-drift.tty)"

# a regular file on a terminal: the share done and the time left come
# from its size (churn-train counts trees once the read is over)
churn-gen --rows 60000 --seed 5 -o big.csv || fail "churn-gen failed"
script -qec "churn-train --trees 200 --jobs 1 -o big.churn big.csv >/dev/null" train.tty </dev/null >/dev/null ||
    fail "churn-train failed on a terminal"
grep -aq 'churn-train: [0-9]* trees, [0-9]* trees/s, [0-9]*%, [0-9]* s left' train.tty ||
    fail "no trees progress from churn-train: $(cat -v train.tty | tail -c 300)"

# not a terminal: nothing on stderr, the same output
for p in churn-predict churn-train churn-drift; do
	sh "$p.sh" 2>"$p.err"
	[ $? -le 1 ] || fail "$p failed: $(cat "$p.err")"
	[ -s "$p.err" ] && fail "$p wrote progress to a file: $(cat -v "$p.err")"
done
same pred-tty.csv churn-predict.out

# -q on a terminal: no progress
slow churn-predict -q -m m.churn
on_tty churn-predict
grep -aq 'rows/s' churn-predict.tty && fail "churn-predict -q showed progress"
exit 0
