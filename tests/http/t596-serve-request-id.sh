#!/bin/sh
# churn-serve: X-Request-Id kept when sane, made otherwise, returned on
# every answer; the access log (text and JSON) has it with the remote
# address, bytes in and out and the duration
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
customer 1 m.model.csv >one.json

# rid : the X-Request-Id of the last answer
rid() { sed -n 's/^[Xx]-[Rr]equest-[Ii]d: *//p' hdr | tr -d '\r'; }

# logged PATTERN : a line of serve.log matches (the access log is written
# once the answer is sent: wait for it, 5 s at most)
logged() {
	i=0
	until grep -q -- "$1" serve.log; do
		i=$((i + 1))
		[ $i -gt 100 ] && { cat serve.log >&2; fail "no log line matching '$1'"; }
		sleep 0.05
	done
}

start_serve --model m.model --access-log
# a sane id is kept: letters, digits and -_.:+/=@, up to 128
req GET /health -H 'X-Request-Id: client-7.a:b+c/d=e@f_g'; want 200
[ "$(rid)" = 'client-7.a:b+c/d=e@f_g' ] || fail "id not echoed: '$(rid)'"
long=$(printf '%0128d' 7)
req GET /ready -H "X-Request-Id: $long"; want 200
[ "$(rid)" = "$long" ] || fail "a 128-byte id not kept"
# otherwise one is made: 32 hex digits, a new one each time
req GET /health; want 200; a=$(rid)
req GET /health; want 200; b=$(rid)
echo "$a" | grep -qx '[0-9a-f]\{32\}' || fail "made id '$a'"
[ "$a" != "$b" ] || fail "the same id made twice: $a"
for bad in "${long}9" 'two words' 'semi;colon' "quote\"d" "$(printf 'caf\303\251')"; do
	req GET /health -H "X-Request-Id: $bad"; want 200
	rid | grep -qx '[0-9a-f]\{32\}' || fail "id '$bad' answered with '$(rid)'"
done
# every answer carries one: errors, refusals before the body, admin
req GET /no/such; want 404; [ -n "$(rid)" ] || fail "404 without an id"
req DELETE /health; want 405; [ -n "$(rid)" ] || fail "405 without an id"
req POST /reload; want 401; [ -n "$(rid)" ] || fail "401 without an id"
req POST /predict -H 'Content-Length: 99999999' -H 'X-Request-Id: big-1' -d x; want 413
[ "$(rid)" = big-1 ] || fail "413 id '$(rid)'"
req GET /; want 200; [ -n "$(rid)" ] || fail "/ without an id"

# the access log, text: remote address, bytes, duration, the id
req POST /predict -H 'X-Request-Id: t596-text' --data-binary @one.json; want 200
in=$(wc -c <one.json | tr -d ' '); out=$(wc -c <body | tr -d ' ')
logged 'request_id=t596-text'
line=$(grep 'request_id=t596-text' serve.log)
echo "$line"
for f in 'method=POST' 'path=/predict' 'status=200' "bytes_in=$in " "bytes_out=$out " \
    'remote=127.0.0.1 ' 'ms=[0-9.e-]* '; do
	echo "$line" | grep -q " $f" || fail "access log lacks $f: $line"
done
stop_serve

# JSON
start_serve --model m.model --access-log --log-format json
req GET /model -H 'X-Request-Id: t596-json'; want 200
out=$(wc -c <body | tr -d ' ')
logged '"request_id":"t596-json"'
grep '"request_id":"t596-json"' serve.log >line.json
cat line.json
jq -e --argjson out "$out" '.msg == "request" and .method == "GET" and .path == "/model"
    and .status == 200 and .bytes_in == 0 and .bytes_out == $out
    and .remote == "127.0.0.1" and (.ms | type) == "number" and .ms >= 0' line.json >/dev/null ||
    fail "JSON access log: $(cat line.json)"
# a made id is logged as answered; HEAD sends no body
status=$(curl -s -o /dev/null -D hdr -w '%{http_code}' -I "$URL/health")
[ "$status" = 200 ] || fail "HEAD /health: $status"
id=$(rid)
logged "\"request_id\":\"$id\""
grep "\"request_id\":\"$id\"" serve.log | jq -e '.method == "HEAD" and .bytes_out == 0' >/dev/null ||
    fail "HEAD logged as $(grep "$id" serve.log)"
echo ok
