#!/bin/sh
# churn-serve: the live-traffic window keeps only the model's features and
# id column, within a byte bound per row and per window, and a drift check
# streams it to churn-drift instead of loading it whole
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
here=$PWD
cat >drift-rss <<SH
#!/bin/sh
exec /usr/bin/time -f %M -o "$here/drift.rss" churn-drift "\$@"
SH
chmod +x drift-rss
[ -x /usr/bin/time ] || skip "/usr/bin/time (GNU time) is not installed"
auth='Authorization: Bearer tok'
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --body-limit 2000000 \
    --drift-cmd "$here/drift-rss"

# 50 customers, each with a 1 MB key the model does not know
head -c 1000000 /dev/zero | tr '\0' x >junk
k=1
while [ $k -le 50 ]; do
	customer $k m.model.csv | jq -c --rawfile j junk '. + {junk: $j}' >big.json
	s=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary @big.json "$URL/predict")
	[ "$s" = 200 ] || fail "predict $k answered $s"
	k=$((k + 1))
done
# and one whose feature value alone is 1 MB: over the row bound, not kept
customer 51 m.model.csv | jq -c --rawfile j junk '. + {Contract: $j}' >big.json
curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary @big.json "$URL/predict"
sleep 0.5
bytes=$(cat st/window*.jsonl | wc -c)
echo "window: $bytes bytes for $(cat st/window*.jsonl | wc -l) rows"
[ "$bytes" -lt 100000 ] || fail "the window holds $bytes bytes for 50 small customers"
# only the features, the id column and the three fields of the window
jq -e -s --slurpfile s /dev/null 'map(has("junk")) | any | not' st/window.jsonl >/dev/null ||
    fail "the window keeps unknown keys"
jq -e -s 'all(has("customerID") and has("tenure") and has("churn_probability"))' \
    st/window.jsonl >/dev/null || fail "window rows lack the id or a feature: $(head -c 300 st/window.jsonl)"

# the drift check over it: peak RSS of churn-drift, and how far the
# server's peak rose above its resident size before the check (a sanitizer
# build keeps freed bodies resident, so the growth is what says it)
kb() { sed -n "s/^$1:[ \t]*\([0-9]*\) kB/\1/p" "/proc/$SERVE_PID/status"; }
echo 5 >"/proc/$SERVE_PID/clear_refs" 2>/dev/null || echo "cannot reset the server's peak RSS"
rss0=$(kb VmRSS)
req POST /drift/check -H "$auth"; want 200
jqok 'has("drift")'
serve_kb=$(kb VmHWM)
drift_kb=$(tail -n 1 drift.rss)
echo "peak RSS: churn-drift $drift_kb kB; churn-serve $serve_kb kB, $((serve_kb - rss0)) kB above its $rss0 kB before the check"
[ "$drift_kb" -lt 150000 ] || fail "churn-drift peaked at $drift_kb kB"
[ $((serve_kb - rss0)) -lt 40000 ] || fail "churn-serve grew by $((serve_kb - rss0)) kB for the check"
stop_serve

# --window-bytes bounds the files whatever the row count
CHURN_ADMIN_TOKEN=tok start_serve --model m.model --window-bytes 20000
head -301 m.model.csv >many.csv
req POST /predict -H 'Content-Type: text/csv' --data-binary @many.csv; want 200
sleep 0.5
bytes=$(cat st/window*.jsonl | wc -c)
echo "window with --window-bytes 20000: $bytes bytes"
[ "$bytes" -le 20000 ] || fail "the window holds $bytes bytes, over --window-bytes 20000"
[ "$bytes" -gt 5000 ] || fail "the window holds only $bytes bytes"
echo ok
