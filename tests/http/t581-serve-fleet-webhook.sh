#!/bin/sh
# The webhook in a fleet: with a database, 3 replicas that all get the same
# signed delivery (as behind a load balancer that retries, or a hook set
# on each) start one pipeline run, a replay to another replica later
# starts nothing, and pushes to different replicas never run two pipelines
# at once (the advisory lock): the later ones wait and run after.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
. "$CHURN_TOP/tests/cli/registry-lib.sh"
command -v openssl >/dev/null || skip "openssl command not installed"
command -v psql >/dev/null || skip "psql is not installed"
use_services

pids=
cleanup() {
	st=$?
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do
		wait "$p" 2>/dev/null
		w=$?
		[ $w -eq 0 ] || { st=1; echo "FAIL: a replica exited $w on SIGTERM" >&2; }
	done
	(exit $st)
	drop_db
}
trap cleanup EXIT

model m.model
here=$PWD
secret='fleet secret'
cat >pipeline.sh <<SH
#!/bin/sh
mkdir "$here/running" 2>/dev/null || echo "\$CHURN_HOOK_DELIVERY" >>"$here/overlap"
echo "\$CHURN_HOOK_DELIVERY" >>"$here/runs"
sleep 2
rmdir "$here/running"
SH
chmod +x pipeline.sh

# replica N: started on a free port, rN_port set
replica() {
	CHURN_WEBHOOK_SECRET=$secret churn-serve --listen 127.0.0.1:0 --state-dir "st$1" \
	    --model m.model --pipeline-cmd "$here/pipeline.sh" 2>"r$1.log" &
	pids="$pids $!"
	k=0
	until grep -q ' listening addr=' "r$1.log" 2>/dev/null; do
		k=$((k + 1)); [ $k -gt 200 ] && { cat "r$1.log" >&2; fail "replica $1 did not start in 10 s"; }
		sleep 0.05
	done
	eval "r$1_port=\$(sed -n '/ listening addr=/s/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' r$1.log | head -n 1)"
}
replica 1; replica 2; replica 3

# push REPLICA DELIVERY SHA : a signed push event to a replica; prints the
# status, the answer in ./ans.DELIVERY.REPLICA
push() {
	[ -e "body.$3" ] || printf '{"ref":"refs/heads/main","after":"%s"}' "$3" >"body.$3"
	sig=sha256=$(openssl dgst -sha256 -hmac "$secret" -r "body.$3" | cut -d' ' -f1)
	eval "p=\$r$1_port"
	# shellcheck disable=SC2154
	curl -s -o "ans.$2.$1" -w '%{http_code}\n' -H 'Content-Type: application/json' \
	    -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: $sig" \
	    -H "X-GitHub-Delivery: $2" --data-binary @"body.$3" "http://127.0.0.1:$p/hooks/github"
}
idle() {
	i=0
	while :; do
		sleep 0.5
		[ -d running ] || { sleep 0.7; [ -d running ] || break; }
		i=$((i + 1)); [ $i -gt 60 ] && fail "the pipeline did not finish"
	done
}

# the same delivery to every replica, 10 times each, at once: one run
k=0 cps=
push_body() { printf '{"ref":"refs/heads/main","after":"%s"}' "$1" >"body.$1"; }
push_body aaaa
while [ $k -lt 10 ]; do
	for r in 1 2 3; do
		push "$r" d-1 aaaa >"same.$r.$k" &
		cps="$cps $!"
	done
	k=$((k + 1))
done
wait $cps
cat same.* | sort | uniq -c
[ "$(cat same.* | grep -c '^202$')" -eq 1 ] || fail "not exactly one of 30 copies on 3 replicas was accepted"
[ "$(cat same.* | grep -c '^200$')" -eq 29 ] || fail "the 29 other copies were not answered 200"
idle
[ "$(wc -l <runs)" -eq 1 ] || fail "one delivery on 3 replicas started $(wc -l <runs) runs"
n=$(psql -X -At "$CHURN_DATABASE_URL" -c "SELECT count(*) FROM churn_hook_deliveries")
[ "$n" -eq 2 ] || fail "$n rows in churn_hook_deliveries, not 2 (delivery id and body)"

# a replay to another replica later, under another id too: nothing
s=$(push 3 d-1 aaaa); [ "$s" = 200 ] || fail "d-1 replayed to replica 3 answered $s"
s=$(push 2 d-77 aaaa); [ "$s" = 200 ] || fail "the same body as d-77 answered $s"

# pushes to different replicas while one runs: one at a time in the fleet
s=$(push 1 d-2 bbbb); [ "$s" = 202 ] || fail "push d-2 answered $s"
sleep 0.3
s=$(push 2 d-3 cccc); [ "$s" = 202 ] || fail "push d-3 answered $s"
jq -e '.pipeline == "queued" and (has("pid") | not)' ans.d-3.2 >/dev/null ||
    fail "d-3 on replica 2 while replica 1 runs: $(cat ans.d-3.2)"
s=$(push 3 d-4 dddd); [ "$s" = 202 ] || fail "push d-4 answered $s"
jq -e '.pipeline == "queued"' ans.d-4.3 >/dev/null || fail "d-4 on replica 3: $(cat ans.d-4.3)"
idle
sleep 1
idle
cat runs
[ -e overlap ] && fail "two pipelines ran at once: $(cat overlap)"
[ "$(sed -n 2p runs)" = d-2 ] || fail "d-2 did not run second: $(cat runs)"
[ "$(sed -n '3,4p' runs | sort | tr '\n' ' ')" = "d-3 d-4 " ] || fail "d-3 and d-4 did not both run after d-2: $(cat runs)"
grep -q 'another replica runs the pipeline' r2.log || fail "replica 2 did not say why it waited"
echo ok
