#!/bin/sh
# churn-serve: a replayed GitHub delivery starts no second pipeline (the
# deliveries seen are kept in the state directory, across restarts), and
# only one pipeline runs at a time: pushes during a run coalesce into one
# more run
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v openssl >/dev/null || skip "openssl command not installed"

model m.model
here=$PWD
secret='replay secret'
# each run appends its delivery to ./runs; ./overlap records two at once
cat >pipeline.sh <<SH
#!/bin/sh
mkdir "$here/running" 2>/dev/null || echo "\$CHURN_HOOK_DELIVERY" >>"$here/overlap"
echo "\$CHURN_HOOK_DELIVERY" >>"$here/runs"
sleep 2
rmdir "$here/running"
SH
chmod +x pipeline.sh
serve() {
	CHURN_WEBHOOK_SECRET=$secret start_serve --model m.model \
	    --pipeline-cmd "$here/pipeline.sh"
}
# push DELIVERY SHA : a signed push event, status in ./DELIVERY.N.status
push_body() {
	printf '{"ref":"refs/heads/main","after":"%s","repository":{"name":"churn"}}' "$1"
}
push() {
	[ -e "body.$2" ] || push_body "$2" >"body.$2"
	sig=sha256=$(openssl dgst -sha256 -hmac "$secret" -r "body.$2" | cut -d' ' -f1)
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' \
	    -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: $sig" \
	    -H "X-GitHub-Delivery: $1" --data-binary @"body.$2" "$URL/hooks/github"
}
# idle : waits until no pipeline runs and none is queued
idle() {
	i=0
	while :; do
		sleep 0.5
		[ -d running ] || { sleep 0.5; [ -d running ] || break; }
		i=$((i + 1)); [ $i -gt 60 ] && fail "the pipeline did not finish"
	done
}
serve

# the same signed delivery 30 times at once: one pipeline
push_body aaaa >body.aaaa
k=0 pids=
while [ $k -lt 30 ]; do
	push d-1 aaaa >"replay.$k" &
	pids="$pids $!"
	k=$((k + 1))
done
wait $pids
cat replay.* | sort | uniq -c
[ "$(cat replay.* | grep -c '^202$')" -eq 1 ] || fail "not exactly one replay was accepted"
[ "$(cat replay.* | grep -c '^200$')" -eq 29 ] || fail "the 29 duplicates were not answered 200"
idle
[ "$(wc -l <runs)" -eq 1 ] || fail "30 replays started $(wc -l <runs) pipelines"

# pushes during a run: the first runs, the next three coalesce into one
s=$(push d-2 bbbb); [ "$s" = 202 ] || fail "push d-2 answered $s"
sleep 0.3
for d in 3 4 5; do
	s=$(push "d-$d" "cccc$d"); [ "$s" = 202 ] || fail "push d-$d answered $s"
done
s=$(push d-4 cccc4); [ "$s" = 200 ] || fail "replayed d-4 answered $s, not 200"
idle
printf 'd-1\nd-2\nd-5\n' >want.runs
same want.runs runs
[ -e overlap ] && fail "two pipelines ran at once: $(cat overlap)"

# a restart does not forget: d-1 again is a duplicate, nothing runs
stop_serve
serve
s=$(push d-1 aaaa); [ "$s" = 200 ] || fail "d-1 after a restart answered $s, not 200"
# the same signed body under a new delivery id is the same push
s=$(push d-99 aaaa); [ "$s" = 200 ] || fail "a known body with a new delivery id answered $s, not 200"
sleep 1
same want.runs runs
# a new one still runs
s=$(push d-6 dddd); [ "$s" = 202 ] || fail "push d-6 answered $s"
idle
[ "$(tail -n 1 runs)" = d-6 ] || fail "d-6 did not run: $(cat runs)"
echo ok
