#!/bin/sh
# churn-serve: /retrain and /drift/check run their child without holding an
# HTTP worker (suspend/resume), so /health and /predict answer while two of
# them run on a two-thread server; SIGTERM with one still running kills the
# child and ends the request instead of hanging
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
here=$PWD
cat >slow-drift <<SH
#!/bin/sh
cat >/dev/null
sleep 3
printf '{"model_version":"vX","drift":false,"drift_share":0,"features":[]}\n'
SH
cat >retrain.sh <<SH
#!/bin/sh
echo \$\$ >>"$here/retrain.pids"
sleep "\${1:-3}"
echo '{"done":true}'
SH
chmod +x slow-drift retrain.sh
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --threads 2 \
    --drift-cmd "$here/slow-drift" --retrain-cmd "$here/retrain.sh 3"
customer 1 m.model.csv >c1.json

# two retrains and a drift check, each 3 s, on a server with two workers
pids=
for k in 1 2; do
	curl -s -o "rt$k.body" -w '%{http_code}' -X POST -H "$auth" \
	    "$URL/retrain" >"rt$k.status" &
	pids="$pids $!"
done
curl -s -o dc.body -w '%{http_code}' -X POST -H "$auth" -H 'Content-Type: text/csv' \
    --data-binary @m.model.csv "$URL/drift/check" >dc.status &
pids="$pids $!"
sleep 0.3
# /health, /ready and /predict every 100 ms: each answers 200 within the
# 1 s hang bound (latencies printed, not asserted)
k=0 lat=
while [ $k -lt 25 ]; do
	case $((k % 3)) in
	0) s=$(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' "$URL/health") ;;
	1) s=$(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' "$URL/ready") ;;
	2) s=$(curl -s -o /dev/null -m 1 -w '%{http_code} %{time_total}' \
	    -H 'Content-Type: application/json' --data-binary @c1.json "$URL/predict") ;;
	esac
	lat="$lat ${s#* }"
	[ "${s%% *}" = 200 ] || { echo "latencies (s):$lat"; fail "probe $k answered '$s' while admin work ran"; }
	k=$((k + 1))
	sleep 0.1
done
echo "probe latencies (s):$lat"
wait $pids
for k in 1 2; do
	[ "$(cat rt$k.status)" = 200 ] || fail "retrain $k: $(cat rt$k.status) $(cat rt$k.body)"
	jq -e '.done == true' "rt$k.body" >/dev/null || fail "retrain $k answered $(cat rt$k.body)"
done
[ "$(cat dc.status)" = 200 ] || fail "drift check: $(cat dc.status) $(cat dc.body)"
jq -e '.drift == false' dc.body >/dev/null || fail "drift check answered $(cat dc.body)"
stop_serve

# SIGTERM while a retrain runs for 60 s: after the grace the child is
# killed, the request answered, and the server exits 0 well before 60 s
rm -f retrain.pids
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --threads 2 \
    --retrain-cmd "$here/retrain.sh 60"
curl -s -o long.body -w '%{http_code}' -X POST -H "$auth" "$URL/retrain" >long.status &
c=$!
i=0
while [ ! -s retrain.pids ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the retrain command did not start"
	sleep 0.05
done
t0=$(date +%s)
kill -TERM "$SERVE_PID"
i=0
while kill -0 "$SERVE_PID" 2>/dev/null; do
	i=$((i + 1))
	[ $i -gt 300 ] && { kill -KILL "$SERVE_PID"; fail "churn-serve still running 30 s after SIGTERM"; }
	sleep 0.1
done
wait "$SERVE_PID"
rc=$?
SERVE_PID=
echo "stopped $(( $(date +%s) - t0 )) s after SIGTERM"
[ "$rc" -eq 0 ] || { tail -n 30 serve.log >&2; fail "churn-serve exited $rc after SIGTERM"; }
wait $c
echo "the retrain in flight got $(cat long.status): $(cat long.body)"
[ "$(cat long.status)" = 503 ] || fail "the retrain in flight got '$(cat long.status)', not 503"
# gone (or a zombie waiting for its reaper) within a second
i=0
while st=$(ps -o stat= -p "$(cat retrain.pids)") && [ "${st#Z}" = "$st" ]; do
	i=$((i + 1)); [ $i -gt 10 ] && fail "the retrain command still runs after shutdown"
	sleep 0.1
done
echo ok
