#!/bin/sh
# 50 different models trained in the same second (SOURCE_DATE_EPOCH), pushed
# all at once, to the index in a file:// store and to PostgreSQL + S3: every
# push exits 0 with a version of its own in the vYYYYMMDD-HHMMSS form, and
# every registered version pulls, verifies (object = registry = pulled) and
# is the model that was pushed under it, its own name inside
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

N=50
[ -f d.csv ] || churn-gen --rows 300 --seed 7 -o d.csv || fail "churn-gen failed"
head -n 40 d.csv >few.csv
i=1
while [ "$i" -le "$N" ]; do
	SOURCE_DATE_EPOCH=1700000000 churn-train --trees 2 --seed "$i" \
		-o "m$i.churn" d.csv >/dev/null 2>train.err ||
		{ cat train.err >&2; fail "churn-train failed"; }
	churn-predict -m "m$i.churn" few.csv >"p$i.csv" 2>/dev/null ||
		fail "churn-predict -m m$i.churn failed"
	i=$((i + 1))
done
churn-predict -m m1.churn --describe >desc.json || fail "--describe failed"
trained=$(field version desc.json)
[ "$trained" = v20231114-221320 ] || fail "trained version '$trained', not v20231114-221320"

# exited0 MODE I: push I exited 0; its version is registered with the
# sha256 it printed, pulls as that, and is model I with its own name inside
exited0() {
	v=$(field version "push$2.out")
	sha=$(field sha256 "push$2.out")
	echo "$v" >>claimed
	expr "$v" : 'v[0-9]\{8\}-[0-9]\{6\}$' >/dev/null ||
		{ echo "$1: push $2: version '$v' is not vYYYYMMDD-HHMMSS" >&2; return 1; }
	[ "$(registered_sha "$v")" = "$sha" ] ||
		{ echo "$1: push $2 exited 0 with $v sha256 $sha, the registry has '$(registered_sha "$v")'" >&2; return 1; }
	churn-models pull "$v" -o "got$2.churn" >/dev/null 2>pull.err ||
		{ echo "$1: push $2 exited 0 as $v, which does not pull: $(cat pull.err)" >&2; return 1; }
	[ "$(sha_of "got$2.churn")" = "$sha" ] || { echo "$1: $v pulled with another sha256" >&2; return 1; }
	churn-predict -m "got$2.churn" few.csv >got.csv 2>/dev/null ||
		{ echo "$1: $v: churn-predict cannot use it" >&2; return 1; }
	cmp -s "p$2.csv" got.csv || { echo "$1: $v is not the model push $2 sent" >&2; return 1; }
	churn-predict -m "got$2.churn" --describe >desc.json 2>/dev/null ||
		{ echo "$1: $v: --describe failed" >&2; return 1; }
	[ "$(field version desc.json)" = "$v" ] ||
		{ echo "$1: $v: the file says it is '$(field version desc.json)'" >&2; return 1; }
}

same_second() {
	i=1
	pids=
	while [ "$i" -le "$N" ]; do
		(churn-push --init --alias latest "m$i.churn" >"push$i.out" 2>"push$i.err"
		 echo $? >"push$i.rc") &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do wait "$p"; done

	ok=0
	refused=0
	lost=0
	: >claimed
	i=1
	while [ "$i" -le "$N" ]; do
		rc=$(cat "push$i.rc")
		case $rc in
		0)	ok=$((ok + 1))
			exited0 "$1" "$i" || lost=$((lost + 1)) ;;
		2)	refused=$((refused + 1))
			[ -s "push$i.err" ] || fail "$1: push $i exited 2 saying nothing" ;;
		*)	cat "push$i.err" >&2; fail "$1: push $i exited $rc" ;;
		esac
		i=$((i + 1))
	done
	dups=$(sort claimed | uniq -d | wc -l)

	# every listed version pulls and verifies
	listed_versions >listed || fail "$1: churn-models list failed"
	bad=0
	while read -r v; do
		if ! churn-models pull "$v" -o got.churn >/dev/null 2>pull.err; then
			bad=$((bad + 1)); echo "$1: listed $v does not pull: $(cat pull.err)" >&2; continue
		fi
		stored_object "$v" obj.churn
		[ "$(sha_of got.churn)" = "$(sha_of obj.churn)" ] || { bad=$((bad + 1)); echo "$1: $v: pulled and stored differ" >&2; }
	done <listed
	echo "$1: $ok of $N same-second pushes exited 0 ($lost of them lost or wrong, $dups names claimed twice), $refused exited 2; $(wc -l <listed) versions listed, $bad of them broken"
	[ "$bad" -eq 0 ] || fail "$1: $bad registered versions do not pull and verify"
	[ "$lost" -eq 0 ] || fail "$1: $lost pushes exited 0 without their model registered under their version"
	[ "$dups" -eq 0 ] || fail "$1: two pushes exited 0 with the same version"
	[ "$ok" -eq "$N" ] || { cat push*.err | sort | uniq -c >&2; fail "$1: $refused of $N different models could not be published"; }
	[ "$(wc -l <listed)" -eq "$N" ] || fail "$1: $(wc -l <listed) versions listed, not $N"
	# the winner kept the trained name
	grep -qx "$trained" listed || fail "$1: nobody has $trained"

	# pushing them all again changes nothing: each finds its own version
	i=1
	while [ "$i" -le "$N" ]; do
		expect 0 churn-push "m$i.churn"
		[ "$(field status out)" = exists ] || fail "$1: second push of m$i: status '$(field status out)'"
		[ "$(field version out)" = "$(field version "push$i.out")" ] ||
			fail "$1: second push of m$i: $(field version out), first $(field version "push$i.out")"
		i=$((i + 1))
	done
	[ "$(listed_versions | wc -l)" -eq "$N" ] || fail "$1: the second round added versions"
}

use_file
same_second file
use_services
same_second services
exit 0
