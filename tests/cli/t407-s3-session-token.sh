# Temporary AWS credentials and the AWS tools' endpoint variable:
# AWS_SESSION_TOKEN goes out as x-amz-security-token and is among the
# signed headers; AWS_ENDPOINT_URL is the S3 endpoint when CHURN_S3_ENDPOINT
# is not set (which wins when both are); and with a token a push and a pull
# still pass the S3 test server's signature check.
. "$CHURN_TOP/tests/lib.sh"
py=/usr/bin/python3
[ -x $py ] || skip "no /usr/bin/python3 for the header-capturing server"

# a server that records each request's headers and answers 403 AccessDenied
cat >capture.py <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(sys.argv[1], "a") as f:
            f.write("%s %s\n%s\n" % (self.command, self.path, str(self.headers)))
        body = b"<Error><Code>AccessDenied</Code><Message>no</Message></Error>"
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_PUT = do_HEAD = do_POST = answer
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
$py capture.py "$PWD/seen" >port &
cap=$!
trap 'kill $cap 2>/dev/null' EXIT
i=0
until [ -s port ]; do i=$((i + 1)); [ $i -gt 100 ] && fail "capture server did not start"; sleep 0.05; done
cport=$(cat port)

s3key=${AWS_ACCESS_KEY_ID:-} s3secret=${AWS_SECRET_ACCESS_KEY:-}
unset CHURN_S3_ENDPOINT AWS_ENDPOINT_URL CHURN_DATABASE_URL AWS_SESSION_TOKEN
export CHURN_STORE=s3://bucket AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=secret-t407 CHURN_REGISTRY_TIMEOUT=5
# AWS_ENDPOINT_URL alone: used
AWS_SESSION_TOKEN=tok-t407-session AWS_ENDPOINT_URL=http://127.0.0.1:$cport expect 2 churn-models list
[ -s seen ] || { cat err; fail "nothing reached the AWS_ENDPOINT_URL endpoint"; }
grep -qix 'x-amz-security-token: tok-t407-session' seen || { cat seen; fail "no x-amz-security-token header"; }
grep -i '^authorization:' seen | head -1 | grep -qi 'SignedHeaders=[^,]*x-amz-security-token' ||
	{ grep -i authorization seen; fail "x-amz-security-token is not signed"; }
grep -q 'secret-t407\|tok-t407' err && fail "a secret in the message: $(cat err)"
# no token: no header
: >seen
AWS_ENDPOINT_URL=http://127.0.0.1:$cport expect 2 churn-models list
[ -s seen ] && ! grep -qi 'x-amz-security-token' seen || fail "a token header without AWS_SESSION_TOKEN (or no request)"
# both set: CHURN_S3_ENDPOINT wins
: >seen
CHURN_S3_ENDPOINT=http://127.0.0.1:$cport AWS_ENDPOINT_URL=http://127.0.0.1:9 expect 2 churn-models list
[ -s seen ] || { cat err; fail "CHURN_S3_ENDPOINT did not win over AWS_ENDPOINT_URL"; }
# neither: the message names both
expect 2 churn-models list
grep_err "set CHURN_S3_ENDPOINT or AWS_ENDPOINT_URL"

# a real round trip with a token through the signature-checking S3 server
[ -n "${CHURN_TEST_S3_ENDPOINT:-}" ] || skip "no S3 test server (tests/run starts one): the header checks passed"
export AWS_ACCESS_KEY_ID="$s3key" AWS_SECRET_ACCESS_KEY="$s3secret"
export CHURN_STORE=s3://$CHURN_TEST_S3_BUCKET/t407-$$ AWS_ENDPOINT_URL=$CHURN_TEST_S3_ENDPOINT AWS_SESSION_TOKEN=tok-t407
churn-gen --rows 300 --seed 1 -o d.csv && churn-train --trees 3 -o m.churn d.csv >/dev/null 2>&1 || fail "cannot train"
expect 0 churn-push --init m.churn
v=$(jq -r .version out)
expect 0 churn-models pull "$v" -o pulled.churn
same m.churn pulled.churn
echo ok
