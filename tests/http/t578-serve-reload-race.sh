#!/bin/sh
# churn-serve: many concurrent reloads by name, without a name and by
# SIGHUP while /health is read: every reload answers, the server survives
# and exits cleanly (under the sanitizer build a use-after-free of the
# reload target aborts it)
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

LOOPS=
cleanup() {
	for p in $LOOPS; do kill "$p" 2>/dev/null; done
	stop_serve
}
trap cleanup EXIT

# a small model loads fast: reloads follow each other closely
churn-gen --rows 300 --seed 1 -o a.csv || fail "churn-gen failed"
churn-train -o a.model --trees 1 a.csv >/dev/null 2>&1 || fail "churn-train failed"
for k in 1 2 3 4 5 6; do cp a.model "m$k.model"; done
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model "$PWD/m1.model" --threads 4

end=$(($(date +%s) + 8))
# reloads by name, each naming another file: the target changes each time
for k in 1 2 3 4; do
	( i=0; while [ "$(date +%s)" -lt $end ]; do
		i=$((i % 6 + 1))
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$auth" \
		    "$URL/reload?model=$PWD/m$i.model"
	done >named.$k ) &
	LOOPS="$LOOPS $!"
done
# reloads of the current target, which read it
for k in 1 2 3 4; do
	( while [ "$(date +%s)" -lt $end ]; do
		curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$auth" \
		    "$URL/reload"
	done >plain.$k ) &
	LOOPS="$LOOPS $!"
done
( while [ "$(date +%s)" -lt $end ]; do
	curl -s -o /dev/null -w '%{http_code}\n' "$URL/health"
done >health ) &
LOOPS="$LOOPS $!"
while [ "$(date +%s)" -lt $end ]; do
	kill -HUP "$SERVE_PID" 2>/dev/null || fail "churn-serve died"
	sleep 0.05
done
for p in $LOOPS; do wait "$p"; done
LOOPS=
echo "reloads by name: $(cat named.* | wc -l), without: $(cat plain.* | wc -l)," \
    "health reads: $(wc -l <health)"
bad=$(cat named.* plain.* health | grep -cv '^200$')
[ "$bad" -eq 0 ] || fail "$bad answers were not 200: $(cat named.* plain.* health | sort | uniq -c)"
kill -0 "$SERVE_PID" 2>/dev/null || { tail -n 40 serve.log >&2; fail "churn-serve died"; }
req GET /health; want 200
stop_serve
grep -q 'AddressSanitizer\|runtime error' serve.log && fail "sanitizer report in serve.log"
echo ok
