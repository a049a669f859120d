# make install puts the programs, the man pages and a systemd unit in place
# (ExecStart in the install's bin, ExecReload SIGHUP, a hardened sandbox),
# systemd-analyze verify accepts the unit and refuses a broken one, and
# make uninstall removes all of it again.
. "$CHURN_TOP/tests/lib.sh"
command -v make >/dev/null 2>&1 || skip "make is not installed"
# the plain build's install, even inside `make SAN=1 check-san`
unset MAKEFLAGS MFLAGS MAKELEVEL
p=$PWD/inst/usr
make -s -C "$CHURN_TOP" install PREFIX="$p" >make.log 2>&1 || { cat make.log; fail "make install failed"; }
for prog in churn-gen churn-train churn-predict churn-drift churn-push churn-models churn-serve; do
	[ -x "$p/bin/$prog" ] || fail "make install did not install $prog"
done
[ -f "$p/share/man/man1/churn-serve.1" ] && [ -f "$p/share/man/man7/churn.7" ] || fail "man pages not installed"
unit=$p/lib/systemd/system/churn-serve.service
[ -f "$unit" ] || fail "no systemd unit at $unit"
grep -qx "ExecStart=$p/bin/churn-serve --state-dir /var/lib/churn" "$unit" || fail "ExecStart is not $p/bin/churn-serve: $(grep ExecStart "$unit")"
for line in 'ExecReload=/bin/kill -HUP $MAINPID' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/churn' \
	'NoNewPrivileges=yes' 'PrivateTmp=yes' 'ProtectHome=yes' 'CapabilityBoundingSet=' 'DynamicUser=yes'; do
	grep -qxF "$line" "$unit" || fail "the unit lacks '$line'"
done

if command -v systemd-analyze >/dev/null 2>&1; then
	# --man=no: the unit's man: links need an indexed man page
	systemd-analyze verify --man=no "$unit" >verify.out 2>&1 || { cat verify.out; fail "systemd-analyze verify rejects the unit"; }
	[ -s verify.out ] && { cat verify.out; fail "systemd-analyze verify warns about the unit"; }
	mkdir -p bad
	sed "s|^ExecStart=$p/bin/|ExecStart=/nonexistent/|" "$unit" >bad/churn-serve.service
	systemd-analyze verify --man=no bad/churn-serve.service >bad.out 2>&1 && fail "systemd-analyze verify accepted a unit whose program is missing"
	grep -q 'nonexistent' bad.out || { cat bad.out; fail "systemd-analyze did not name the missing program"; }
	# how exposed the sandbox leaves the service (0 best .. 10 worst)
	if systemd-analyze security --offline=yes "$unit" >sec.out 2>&1; then
		level=$(sed -n 's/.*Overall exposure level for churn-serve.service: \([0-9.]*\).*/\1/p' sec.out)
		echo "systemd-analyze security: exposure $level"
		awk -v l="$level" 'BEGIN { exit !(l != "" && l <= 2.0) }' || { tail -n 20 sec.out; fail "exposure level '$level' above 2.0"; }
	fi
else
	echo "systemd-analyze is not installed (apt-get install systemd): unit checked by the lines above only"
fi

make -s -C "$CHURN_TOP" uninstall PREFIX="$p" >make.log 2>&1 || { cat make.log; fail "make uninstall failed"; }
left=$(find inst -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
echo ok
