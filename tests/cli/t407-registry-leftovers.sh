#!/bin/sh
# What pushes killed with -9 leave behind in a file:// store (temporary
# files, version directories never registered) is removed by the next push
# and by churn-models gc; registered versions are kept and still pull.
# With PostgreSQL + S3, churn-models gc removes objects of versions nobody
# registered.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

train_models 30
use_file

# rand N: a random number in [0, N)
rand() { echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1)); }

# leftovers: what lies in the store that no registered version owns
leftovers() {
	listed_versions >listed || fail "churn-models list failed"
	for d in store/models/* store/models/.[!.]*; do
		[ -e "$d" ] || continue
		grep -qx "${d##*/}" listed || echo "$d"
	done
	find store -name '*.tmp.*'
}

check_listed() {
	listed_versions >listed || fail "churn-models list failed"
	while read -r v; do
		churn-models pull "$v" -o got.churn >/dev/null 2>pull.err ||
			{ cat pull.err >&2; fail "listed version $v does not pull"; }
	done <listed
}

expect 0 churn-push --init m30.churn
i=1
while [ "$i" -le 29 ]; do
	churn-push "m$i.churn" >/dev/null 2>&1 &
	pid=$!
	sleep "0.00$(rand 10)"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	i=$((i + 1))
done
echo "after 29 killed pushes: $(leftovers | wc -l) leftovers, $(du -sk store | cut -f1) KiB in the store"

# leftovers a dead push could leave at any point, made by hand so that the
# test does not depend on where the kills fell: a version directory nobody
# registered, a temporary file beside a registered artifact and beside the
# index
v30=$(listed_versions | head -n 1)
mkdir -p store/models/v20990101-000000
cp m1.churn store/models/v20990101-000000/model.churn
cp m1.churn "store/models/$v30/model.churn.tmp.999999"
cp store/registry/index.json store/registry/index.json.tmp.999999
[ "$(leftovers | wc -l)" -ge 3 ] || fail "the made leftovers are not seen"

# the next push cleans up
expect 0 churn-push --alias champion m30.churn
left=$(leftovers)
[ -z "$left" ] || fail "after the next push, left over: $(echo $left)"
check_listed
cmp -s "store/models/$v30/model.churn" m30.churn || fail "$v30 changed"

# and churn-models gc does, printing what it removed
mkdir -p store/models/v20990101-000001
cp m2.churn store/models/v20990101-000001/model.churn
cp m2.churn "store/models/$v30/model.churn.tmp.999998"
expect 0 churn-models gc
grep -q 'v20990101-000001' out || { cat out >&2; fail "gc does not name the directory it removed"; }
left=$(leftovers)
[ -z "$left" ] || fail "after gc, left over: $(echo $left)"
check_listed
expect 0 churn-models gc
[ "$(grep -c . out)" -le 1 ] || { cat out >&2; fail "a second gc found more"; }

# the killed pushes can all be pushed again
i=1
while [ "$i" -le 29 ]; do
	expect 0 churn-push "m$i.churn"
	i=$((i + 1))
done
[ "$(listed_versions | wc -l)" -eq 30 ] || fail "$(listed_versions | wc -l) versions, not 30"
check_listed
[ -z "$(leftovers)" ] || fail "leftovers after a clean round: $(leftovers | tr '\n' ' ')"

use_services
expect 0 churn-push --init m30.churn
i=1
while [ "$i" -le 10 ]; do
	churn-push "m$i.churn" >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$(rand 10)$(rand 10)"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	i=$((i + 1))
done
check_listed
# an object under a version nobody registered, as a push killed between
# its upload and its commit leaves it
s3 PUT "$(s3_url models/v20990101-000000/model.churn)" m1.churn >/dev/null || fail "cannot PUT to the bucket"
s3 GET "$(s3_url models/v20990101-000000/model.churn)" >/dev/null || fail "the object is not there"
expect 0 churn-models gc
grep -q 'models/v20990101-000000' out || { cat out >&2; fail "gc does not name the object it removed"; }
s3 GET "$(s3_url models/v20990101-000000/model.churn)" >/dev/null 2>&1 && fail "gc left the object"
check_listed
while read -r v; do
	stored_object "$v" obj.churn
	[ "$(sha_of obj.churn)" = "$(registered_sha "$v")" ] || fail "$v: stored object differs from the registry after gc"
done <listed
expect 0 churn-models gc --json
grep -q '"removed": \[\]' out || { cat out >&2; fail "a second gc found more"; }
exit 0
