#!/bin/sh
# churn-serve: the GitHub webhook checks its HMAC signature and starts the
# pipeline for a push only; retrain runs the configured command
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/http/serve.sh"
command -v openssl >/dev/null || skip "openssl command not installed"

model m.model
secret='It is a secret'
cat >pipeline.sh <<'SH'
#!/bin/sh
echo "ref=$CHURN_HOOK_REF sha=$CHURN_HOOK_SHA delivery=$CHURN_HOOK_DELIVERY" >"$1"
SH
cat >retrain.sh <<'SH'
#!/bin/sh
n=$(wc -c)
printf '{"retrained":true,"bytes_in":%d}\n' "$n"
SH
chmod +x pipeline.sh retrain.sh
CHURN_WEBHOOK_SECRET=$secret CHURN_ADMIN_TOKEN=tok start_serve --model m.model \
    --pipeline-cmd "$PWD/pipeline.sh $PWD/ran" --retrain-cmd "$PWD/retrain.sh"

printf '{"ref":"refs/heads/main","after":"0123abcd","repository":{"name":"churn"}}' >push.json
sig=sha256=$(openssl dgst -sha256 -hmac "$secret" -r push.json | cut -d' ' -f1)
hook() {    # EVENT SIGNATURE [FILE]
	req POST /hooks/github -H 'Content-Type: application/json' \
	    -H "X-GitHub-Event: $1" -H "X-Hub-Signature-256: $2" \
	    -H 'X-GitHub-Delivery: d-42' --data-binary @"${3:-push.json}"
}

# bad signatures
hook push sha256=0000000000000000000000000000000000000000000000000000000000000000; want 401
jqok '.error | test("X-Hub-Signature-256")'
hook push "sha256=$(openssl dgst -sha256 -hmac 'other secret' -r push.json | cut -d' ' -f1)"; want 401
hook push "sha1=$(openssl dgst -sha1 -hmac "$secret" -r push.json | cut -d' ' -f1)"; want 401
req POST /hooks/github -H 'Content-Type: application/json' -H 'X-GitHub-Event: push' --data-binary @push.json; want 401
# the body was altered after signing
printf '{"ref":"refs/heads/evil","after":"0123abcd","repository":{"name":"churn"}}' >evil.json
hook push "$sig" evil.json; want 401
[ -e ran ] && fail "the pipeline ran on a bad signature"

# ping is acknowledged, other events refused, a form-encoded hook too
hook ping "$sig"; want 200; jqok '.event == "ping"'
hook issues "$sig"; want 400; jqok '.error | test("push only")'
req POST /hooks/github -H 'X-GitHub-Event: push' -H "X-Hub-Signature-256: $sig" --data-binary @push.json; want 415
[ -e ran ] && fail "the pipeline ran for an event other than push"

# a valid push starts the pipeline in the background
hook push "$sig"; want 202; jqok '.accepted == true and .event == "push" and .pid > 0'
i=0
while [ ! -s ran ]; do
	i=$((i + 1)); [ $i -gt 100 ] && fail "the pipeline did not run"
	sleep 0.05
done
grep -qx 'ref=refs/heads/main sha=0123abcd delivery=d-42' ran || fail "pipeline saw: $(cat ran)"

# retrain: the body goes to the command's stdin, its JSON comes back
req POST /retrain -H 'Authorization: Bearer tok' -d 'hello'; want 200
jqok '.retrained == true and .bytes_in == 5'
echo ok
