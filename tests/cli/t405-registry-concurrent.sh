#!/bin/sh
# Concurrent pushes to the index in a file:// store lose no entry, and so do
# concurrent pushes to PostgreSQL
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"

train_models 12

concurrent() {
	i=1
	pids=
	while [ "$i" -le 12 ]; do
		churn-push --init --alias latest "m$i.churn" >"push$i.out" 2>"push$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do
		wait "$p" || { cat push*.err >&2; fail "a concurrent push failed"; }
	done
	expect 0 churn-models list
	[ "$(($(wc -l <out) - 1))" -eq 12 ] || { cat out >&2; fail "$1: $(($(wc -l <out) - 1)) versions listed, not 12"; }
	expect 0 churn-models history latest
	[ "$(($(wc -l <out) - 1))" -ge 1 ] || fail "$1: no alias history"
	# and the same again: all idempotent
	i=1
	pids=
	while [ "$i" -le 12 ]; do
		churn-push "m$i.churn" >"push$i.out" 2>"push$i.err" &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do
		wait "$p" || { cat push*.err >&2; fail "a concurrent retry failed"; }
	done
	[ "$(grep -l '"status": "exists"' push*.out | wc -l)" -eq 12 ] || fail "$1: retries not all 'exists'"
}

use_file
concurrent file
use_services
concurrent services
exit 0
