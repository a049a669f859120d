#!/bin/sh
# churn-serve: CORS only for the origins of --cors-origin; preflight
# OPTIONS answered for them alone; nothing CORS without the option
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"

model m.model
customer 1 m.model.csv >one.json

# hval NAME : the value of header NAME in the last answer, "" if none
hval() { tr -d '\r' <hdr | sed -n "s/^$1: *//Ip" | head -1; }
# nocors : the last answer has no CORS header
nocors() {
	! grep -qi '^access-control-' hdr || fail "$m $p: CORS headers: $(grep -i '^access-control' hdr)"
}
preflight() {   # preflight PATH ORIGIN
	req OPTIONS "$1" -H "Origin: $2" -H 'Access-Control-Request-Method: POST' \
	    -H 'Access-Control-Request-Headers: content-type'
}

# no option: nothing, not even Vary; OPTIONS is a method like any other
start_serve --model m.model
req GET /health -H 'Origin: http://a.example'; want 200; nocors
grep -qi '^vary:' hdr && fail "Vary without --cors-origin"
preflight /predict http://a.example; want 405; nocors
[ "$(hval Allow)" = POST ] || fail "preflight without CORS: Allow '$(hval Allow)'"
stop_serve

# bad origins are refused at start
expect 2 churn-serve --listen 127.0.0.1:0 --state-dir st --cors-origin a.example
grep_err "--cors-origin: 'a.example' is not an origin"
expect 2 churn-serve --listen 127.0.0.1:0 --state-dir st --cors-origin 'http://a.example,http://b.example/app'
grep_err "'http://b.example/app' is not an origin"

# listed origins (repeated, and a comma list)
start_serve --model m.model --cors-origin http://a.example \
    --cors-origin 'https://b.example:8443,http://[::1]:3000'
req GET /health -H 'Origin: http://a.example'; want 200
[ "$(hval Access-Control-Allow-Origin)" = http://a.example ] || fail "GET: ACAO '$(hval Access-Control-Allow-Origin)'"
hval Access-Control-Expose-Headers | grep -q X-Request-Id || fail "X-Request-Id not exposed"
hval Vary | grep -q Origin || fail "no Vary: Origin"
req POST /predict -H 'Origin: http://[::1]:3000' --data-binary @one.json; want 200
[ "$(hval Access-Control-Allow-Origin)" = 'http://[::1]:3000' ] || fail "POST: ACAO '$(hval Access-Control-Allow-Origin)'"
# an error is readable by the page too
req POST /reload -H 'Origin: https://b.example:8443'; want 401
[ "$(hval Access-Control-Allow-Origin)" = https://b.example:8443 ] || fail "401 without ACAO"
# an origin not listed gets nothing but Vary
req GET /health -H 'Origin: http://evil.example'; want 200; nocors
hval Vary | grep -q Origin || fail "no Vary: Origin for an unlisted origin"
req GET /health -H 'Origin: http://a.example.evil'; want 200; nocors

# preflight: listed origins only, the route's own methods
preflight /predict https://b.example:8443; want 204
[ "$(hval Access-Control-Allow-Origin)" = https://b.example:8443 ] || fail "preflight ACAO '$(hval Access-Control-Allow-Origin)'"
[ "$(hval Access-Control-Allow-Methods)" = POST ] || fail "preflight methods '$(hval Access-Control-Allow-Methods)'"
hval Access-Control-Allow-Headers | grep -qi content-type || fail "Content-Type not allowed"
hval Access-Control-Allow-Headers | grep -qi authorization || fail "Authorization not allowed"
[ -n "$(hval Access-Control-Max-Age)" ] || fail "no Max-Age"
[ -n "$(hval X-Request-Id)" ] || fail "preflight without an id"
preflight /reload http://a.example; want 204       # no token needed to ask
preflight /health http://a.example; want 204
[ "$(hval Access-Control-Allow-Methods)" = "GET, HEAD" ] || fail "/health preflight methods '$(hval Access-Control-Allow-Methods)'"
preflight /predict http://evil.example; want 405; nocors
preflight /no/such http://a.example; want 404
req OPTIONS /predict -H 'Origin: http://a.example'; want 405  # not a preflight
stop_serve

# any origin
start_serve --model m.model --cors-origin '*'
req GET /health -H 'Origin: http://anything.example'; want 200
[ "$(hval Access-Control-Allow-Origin)" = '*' ] || fail "'*': ACAO '$(hval Access-Control-Allow-Origin)'"
req GET /health; want 200; nocors      # not a cross-origin request
echo ok
