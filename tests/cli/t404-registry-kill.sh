#!/bin/sh
# kill -9 at random points of 20 pushes leaves a registry whose every listed
# version pulls and verifies; pushing them all again completes the set
# (index in a file:// store, then PostgreSQL + S3)
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

train_models 20

# rand N: a random number in [0, N)
rand() { echo $(($(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % $1)); }

kill_pushes() {
	i=1
	while [ "$i" -le 20 ]; do
		churn-push --init --alias champion "m$i.churn" >/dev/null 2>&1 &
		pid=$!
		# somewhere in the middle of the push (or after it): a file://
		# push takes milliseconds, one to S3 and PostgreSQL longer
		if [ "$mode" = file ]; then sleep "0.00$(rand 10)"; else sleep "0.0$(rand 10)$(rand 10)"; fi
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		i=$((i + 1))
	done
}

check_listed() {
	expect 0 churn-models list
	awk 'NR > 1 { print $1 }' out >listed
	while read -r v; do
		churn-models pull "$v" -o got.churn >/dev/null 2>pull.err ||
			{ cat pull.err >&2; fail "listed version $v does not pull"; }
		stored_object "$v" obj.churn
		[ "$(sha_of got.churn)" = "$(sha_of obj.churn)" ] || fail "$v: pulled and stored differ"
		[ "$(sha_of got.churn)" = "$(registered_sha "$v")" ] || fail "$v: sha256 differs from the registry"
	done <listed
	# champion, if set, resolves and pulls
	if churn-models show champion >/dev/null 2>&1; then
		expect 0 churn-models pull champion -o champ.churn
	fi
}

for m in file services; do
	if [ "$m" = file ]; then use_file; else use_services; fi
	kill_pushes
	check_listed
	echo "$m: $(wc -l <listed) of 20 versions registered after the kills"
	i=1
	while [ "$i" -le 20 ]; do
		expect 0 churn-push --alias champion "m$i.churn"
		i=$((i + 1))
	done
	check_listed
	[ "$(wc -l <listed)" -eq 20 ] || fail "$m: $(wc -l <listed) versions after re-pushing, not 20"
done
exit 0
