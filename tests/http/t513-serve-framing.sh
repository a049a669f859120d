#!/bin/sh
# churn-serve: a request whose body length is ambiguous is refused with
# 400 and the connection closed (request smuggling behind a proxy): two
# different Content-Length headers, Content-Length with Transfer-Encoding,
# a Content-Length that is not a number
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
customer 1 m.model.csv >one.json
start_serve --model m.model

# raw HEAD... : sends the request head (lines joined with CRLF) and the
# contents of ./rawbody on a fresh connection; every answer the server
# gives until it closes (5 s at most) goes to ./answers
raw() {
	/usr/bin/python3 - "$PORT" "$@" <<'PY' >answers || fail "raw request failed"
import socket, sys
port = int(sys.argv[1])
head = "\r\n".join(sys.argv[2:]).encode() + b"\r\n\r\n"
body = open("rawbody", "rb").read()
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.sendall(head + body)
got = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += b
except socket.timeout:
    pass
sys.stdout.write(got.decode("latin-1"))
PY
}
# statuses : the status line of every answer, one a line
statuses() { grep -a '^HTTP/1\.[01] ' answers | cut -d' ' -f2 | tr -d '\r'; }

len=$(wc -c <one.json)
# the well-formed request works (and the helper with it)
cp one.json rawbody
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Content-Length: $len" "Connection: close"
[ "$(statuses)" = 200 ] || fail "plain POST: $(statuses | tr '\n' ' ')"
# the same value twice is one length: accepted
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Content-Length: $len" "Content-Length: $len" "Connection: close"
[ "$(statuses)" = 200 ] || fail "repeated equal Content-Length: $(statuses | tr '\n' ' ')"
# two different lengths: the second customer would be smuggled
{ cat one.json; printf 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n'; } >rawbody
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Content-Length: $len" "Content-Length: $((len + 37))"
[ "$(statuses)" = 400 ] || fail "two Content-Length: $(statuses | tr '\n' ' ')"
grep -aq 'Content-Length' answers || fail "the 400 does not say why: $(cat answers)"
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Content-Length: $((len + 37))" "Content-Length: $len"
[ "$(statuses)" = 400 ] || fail "two Content-Length (other order): $(statuses | tr '\n' ' ')"
# Content-Length and chunked: a front proxy and the server may disagree
printf '0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n' >rawbody
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Content-Length: 44" "Transfer-Encoding: chunked"
[ "$(statuses)" = 400 ] || fail "Content-Length with Transfer-Encoding: $(statuses | tr '\n' ' ')"
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Transfer-Encoding: chunked" "Content-Length: 44"
[ "$(statuses)" = 400 ] || fail "Transfer-Encoding with Content-Length: $(statuses | tr '\n' ' ')"
# also on a route that takes no body
raw "GET /health HTTP/1.1" "Host: x" "Content-Length: 0" "Content-Length: 44"
[ "$(statuses)" = 400 ] || fail "GET with two Content-Length: $(statuses | tr '\n' ' ')"
# a list of lengths in one header (libmicrohttpd refuses it itself, and
# writes its status line twice)
cp one.json rawbody
raw "POST /predict HTTP/1.1" "Host: x" "Content-Type: application/json" \
    "Content-Length: $len, 5"
[ "$(statuses | sort -u)" = 400 ] || fail "Content-Length list: $(statuses | tr '\n' ' ')"
# nothing was smuggled through, and the server still answers
grep -q smuggled serve.log && fail "a smuggled request reached the server"
req GET /health; want 200
echo ok
