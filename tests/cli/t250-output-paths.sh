#!/bin/sh
# -o and every atomic write, by what is at the path: a regular file (or
# nothing) is replaced whole through a temporary file; a character device or
# a FIFO is written in place and stays what it is; a symbolic link is
# followed and its target written; a socket or a directory is refused
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 is not installed (to make a socket)"

# Devices of our own: as root, a regression would turn the machine's
# /dev/null into a file.  Without root, /dev is not writable, so the real
# ones are safe to use.
if [ "$(id -u)" -eq 0 ]; then
	mknod null c 1 3 && mknod full c 1 7 || fail "mknod failed"
	NULL=$PWD/null FULL=$PWD/full
else
	NULL=/dev/null FULL=/dev/full
fi
"$PY" -c 'import socket; socket.socket(socket.AF_UNIX).bind("sock")' ||
	fail "cannot make a socket"
[ -S sock ] || fail "no socket made"
mkdir dir

# references: what each program writes to a regular file
churn-gen --rows 300 --seed 7 -o d.csv || fail "churn-gen failed"
churn-gen --rows 200 --seed 3 >gen.ref || fail "churn-gen failed"
SOURCE_DATE_EPOCH=1700000000 churn-train --trees 3 --seed 1 -o train.ref d.csv \
	>/dev/null 2>train.err || { cat train.err >&2; fail "churn-train failed"; }
use_file
churn-push train.ref >push.json 2>push.err || { cat push.err >&2; fail "churn-push failed"; }
v=$(field version push.json)
[ -n "$v" ] || fail "no version in $(cat push.json)"
cp train.ref pull.ref

# write KIND PATH: program KIND writes its output to PATH with -o
write() {
	case $1 in
	gen) timeout 60 churn-gen --rows 200 --seed 3 -o "$2" ;;
	train) SOURCE_DATE_EPOCH=1700000000 timeout 60 churn-train --trees 3 \
		--seed 1 -o "$2" d.csv ;;
	pull) timeout 60 churn-models pull "$v" -o "$2" ;;
	esac
}

for k in gen train pull; do
	# a regular file is replaced
	echo old >"$k.out"
	expect 0 write $k "$k.out"
	cmp -s "$k.out" "$k.ref" || fail "$k -o: a regular file is not replaced"
	[ -f "$k.out" ] && [ ! -L "$k.out" ] || fail "$k -o: not a regular file"

	# a character device is written in place and stays one
	expect 0 write $k "$NULL"
	[ -c "$NULL" ] || fail "$k -o $NULL: no longer a character device"
	ls "$NULL".* >/dev/null 2>&1 && fail "$k -o $NULL: left $(ls "$NULL".*)"
	expect 2 write $k "$FULL"
	grep_err "No space left on device"
	[ -c "$FULL" ] || fail "$k -o $FULL: no longer a character device"
	# ... also through a symbolic link
	ln -s "$NULL" "$k.null"
	expect 0 write $k "$k.null"
	[ -L "$k.null" ] || fail "$k -o: the link to $NULL is gone"
	[ -c "$NULL" ] || fail "$k -o: $NULL through a link is no longer a device"

	# a FIFO: a reader gets the data, the FIFO stays
	mkfifo "$k.fifo"
	timeout 60 cat "$k.fifo" >"$k.got" &
	cat_pid=$!
	write $k "$k.fifo" >out 2>err
	rc=$?
	if [ $rc -ne 0 ] || [ ! -p "$k.fifo" ]; then
		kill $cat_pid 2>/dev/null
		wait $cat_pid 2>/dev/null
		cat err >&2
		[ -p "$k.fifo" ] || fail "$k -o: the FIFO was replaced (exit $rc)"
		fail "$k -o FIFO: exit $rc"
	fi
	wait $cat_pid || fail "$k -o FIFO: the reader failed"
	cmp -s "$k.got" "$k.ref" || fail "$k -o FIFO: the reader got other data"

	# a link to a regular file: the link stays, its target is written;
	# a relative target is read from the link's own directory
	echo old >"$k.target"
	ln -s "$k.target" "$k.link"
	expect 0 write $k "$k.link"
	[ -L "$k.link" ] || fail "$k -o: the link was replaced"
	[ "$(readlink "$k.link")" = "$k.target" ] || fail "$k -o: the link changed"
	cmp -s "$k.target" "$k.ref" || fail "$k -o: the link's target is not written"
	mkdir "$k.sub"
	ln -s "../$k.target2" "$k.sub/link"
	expect 0 write $k "$k.sub/link"
	[ -L "$k.sub/link" ] || fail "$k -o: the link in a subdirectory was replaced"
	cmp -s "$k.target2" "$k.ref" ||
		fail "$k -o: the target of a relative link in a subdirectory is not written"

	# a dangling link (through another link): the target is created
	ln -s "$k.new" "$k.dangling"
	ln -s "$k.dangling" "$k.chain"
	expect 0 write $k "$k.chain"
	[ -L "$k.chain" ] && [ -L "$k.dangling" ] || fail "$k -o: a link was replaced"
	cmp -s "$k.new" "$k.ref" || fail "$k -o: the dangling link's target is not created"

	# a socket and a directory are refused, left as they are, named
	expect 2 write $k sock
	grep_err "sock"
	grep_err "socket"
	[ -S sock ] || fail "$k -o sock: the socket was replaced"
	ln -s sock "$k.socklink"
	expect 2 write $k "$k.socklink"
	grep_err "$k.socklink"
	grep_err "socket"
	[ -S sock ] && [ -L "$k.socklink" ] || fail "$k -o: the socket behind a link was replaced"
	expect 2 write $k dir
	grep_err "dir"
	grep_err "directory"
	[ -d dir ] || fail "$k -o dir: the directory was replaced"
	ln -s "$k.loop2" "$k.loop1"
	ln -s "$k.loop1" "$k.loop2"
	expect 2 write $k "$k.loop1"
	grep_err "$k.loop1"
	[ -L "$k.loop1" ] || fail "$k -o: a link loop was replaced"
done
ls ./*.tmp.* >/dev/null 2>&1 && fail "temporary files left: $(ls ./*.tmp.*)"

# churn-serve --pid-file: the same rules; at exit it removes only a file
# it made, never a device
serve_pid() {
	rm -f serve.log
	churn-serve --listen 127.0.0.1:0 --state-dir st --model train.ref \
		--pid-file "$1" 2>serve.log &
	spid=$!
	i=0
	until grep -qs listening serve.log; do
		kill -0 $spid 2>/dev/null || { cat serve.log >&2; fail "churn-serve --pid-file $1 exited at start"; }
		i=$((i + 1))
		[ $i -gt 400 ] && { kill $spid; cat serve.log >&2; fail "churn-serve did not start"; }
		sleep 0.05
	done
	kill $spid
	wait $spid || { cat serve.log >&2; fail "churn-serve --pid-file $1 exited $? on SIGTERM"; }
}
serve_pid "$NULL"
[ -c "$NULL" ] || fail "churn-serve --pid-file $NULL: no longer a character device"
ln -s serve.pid pid.link
serve_pid pid.link
[ -L pid.link ] || fail "churn-serve --pid-file: the link was replaced"
expect 2 timeout 60 churn-serve --listen 127.0.0.1:0 --state-dir st --model train.ref \
	--pid-file sock
grep_err "socket"
[ -S sock ] || fail "churn-serve --pid-file sock: the socket was replaced"

# killed while writing, -o leaves the old file or the whole new one, never a part
echo old >big.csv
churn-gen --rows 400000 -o big.csv &
gpid=$!
i=0
while kill -0 $gpid 2>/dev/null && ! ls big.csv.tmp.* >/dev/null 2>&1 && [ $i -lt 2000 ]; do
	i=$((i + 1))
	sleep 0.01
done
kill -9 $gpid 2>/dev/null
wait $gpid
rm -f big.csv.tmp.*
if [ "$(cat big.csv)" = old ]; then
	echo "killed before the rename: big.csv is the old file"
else
	[ "$(wc -l <big.csv)" -eq 400001 ] && [ "$(tail -c 1 big.csv | od -An -c | tr -d ' ')" = '\n' ] ||
		fail "big.csv is a part: $(wc -l <big.csv) lines"
	echo "finished before the kill: big.csv is whole"
fi
exit 0
