# shellcheck shell=sh
# tests/http/serve.sh - helpers for the churn-serve tests; source it after
# tests/lib.sh.  Every server runs on a free loopback port and is always
# killed when the test ends.
command -v jq >/dev/null || skip "jq is not installed (scripts/install-deps)"
command -v curl >/dev/null || skip "curl is not installed"

SERVE_PID=
trap 'stop_serve' EXIT

# model NAME [ROWS [SEED]] : a small model trained on generated data
model() {
	churn-gen --rows "${2:-1500}" --seed "${3:-1}" -o "$1.csv" ||
	    fail "churn-gen failed"
	churn-train -o "$1" --trees 20 "$1.csv" >"$1.json" 2>"$1.err" ||
	    { cat "$1.err" >&2; fail "churn-train failed"; }
}

# start_serve ARGS... : starts churn-serve on a free port with its state in
# ./st; sets PORT, URL and SERVE_PID, log in serve.log
start_serve() {
	rm -f serve.log     # not to read the port of an earlier server
	churn-serve --listen 127.0.0.1:0 --state-dir st "$@" 2>serve.log &
	SERVE_PID=$!
	i=0
	PORT=
	while [ -z "$PORT" ]; do
		PORT=$(sed -n '/listening/s/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' serve.log 2>/dev/null)
		[ -n "$PORT" ] && break
		kill -0 "$SERVE_PID" 2>/dev/null ||
		    { cat serve.log >&2; SERVE_PID=; fail "churn-serve exited at start"; }
		i=$((i + 1))
		[ $i -gt 200 ] && { cat serve.log >&2; fail "churn-serve did not start in 10 s"; }
		sleep 0.05
	done
	URL=http://127.0.0.1:$PORT
}

# stop_serve : SIGTERM; the server must exit 0 (a sanitizer build exits
# otherwise on a leak or an error, reported in serve.log)
stop_serve() {
	if [ -n "$SERVE_PID" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
		serve_rc=$?     # not rc: callers' traps read theirs
		SERVE_PID=
		[ "$serve_rc" -eq 0 ] || { tail -n 30 serve.log >&2; fail "churn-serve exited $serve_rc on SIGTERM"; }
	fi
	return 0
}

# req METHOD PATH [CURL ARGS...] : answer in ./body, headers in ./hdr,
# status in $status
req() {
	m=$1 p=$2
	shift 2
	status=$(curl -s -o body -D hdr -w '%{http_code}' -X "$m" "$@" "$URL$p") ||
	    fail "$m $p: curl failed"
}

# want STATUS : the last answer had it
want() {
	[ "$status" = "$1" ] || fail "$m $p: status $status, not $1: $(cat body)"
}

# jqok FILTER : the last answer's JSON satisfies the jq filter
jqok() {
	jq -e "$1" body >/dev/null ||
	    fail "$m $p: '$1' does not hold for $(head -c 600 body)"
}

# customer N FILE : row N (1-based) of a CSV as a JSON object, all strings
customer() {
	awk -v n="$1" 'NR == 1 || NR == n + 1' "$2" |
	    jq -R -s -c 'split("\n") | map(select(length > 0) | split(","))
	        | .[0] as $h | .[1] | [range(0; $h | length) as $i
	        | {($h[$i]): .[$i]}] | add'
}
