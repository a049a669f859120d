# scripts/pipeline on a fresh copy of the checkout whose .env is
# .env.example copied as is passes: no servers to reach, no data to supply
# (the first model trains on demo data, said loudly; an empty live-traffic
# window is no drift).  Only the API's port is moved to a free one, through
# the environment, as this machine's port 8000 may be taken.  And every
# variable the pipeline's scripts read is documented in .env.example.
. "$CHURN_TOP/tests/lib.sh"
for p in churn-gen churn-train churn-push churn-models churn-serve; do
	command -v $p >/dev/null 2>&1 || skip "$p is not built"
done
for t in curl jq; do command -v $t >/dev/null 2>&1 || skip "$t is not installed"; done

# every knob the scripts read is in the template
grep -ohE '\$\{?(CHURN|AWS|POSTGRES)_[A-Z0-9_]+' "$CHURN_TOP"/scripts/pipeline "$CHURN_TOP"/scripts/pipeline-cron \
	"$CHURN_TOP"/scripts/stage-* "$CHURN_TOP"/scripts/first-model | tr -d '${' | sort -u >read
grep -oE '^[A-Z][A-Z0-9_]*=' "$CHURN_TOP/.env.example" | tr -d = | sort -u >documented
# CHURN_ENV_FILE says where .env is, CHURN_BIN where the programs are (tests),
# CHURN_TEST_* come from scripts/services
grep -vxE 'CHURN_ENV_FILE|CHURN_BIN|CHURN_TEST_[A-Z0-9_]+' read | comm -23 - documented >missing
[ -s missing ] && fail ".env.example does not document: $(tr '\n' ' ' <missing)"

mkdir fresh
(cd "$CHURN_TOP" && tar -c --exclude=./.git --exclude=./build --exclude=./build-san --exclude=./build-fuzz \
	--exclude=./bin --exclude=./var --exclude='./tests/out*' --exclude='./tests/*/node_modules' \
	--exclude=./tests/node_modules --exclude=./.env .) | tar -C fresh -x || fail "cannot copy the checkout"
cp fresh/.env.example fresh/.env
# the template's values rule, not the caller's environment
for v in $(cat documented); do unset "$v"; done
unset CHURN_ENV_FILE
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CHURN_LISTEN=127.0.0.1:$port CHURN_API_URL=http://127.0.0.1:$port \
	fresh/scripts/pipeline --down >out 2>err || { cat out err; fail "scripts/pipeline failed on a fresh checkout"; }
cat out
grep -q '^pipeline: all 8 stages passed' out || fail "no 'all 7 stages passed' line"
grep -q 'NO TRAINING DATA' err || { cat err; fail "the demo-data first model was not announced"; }
grep -q 'nothing to judge yet: the API has scored no customers' err || { cat err; fail "the empty window was not said"; }
[ -f fresh/var/pipeline/serve.pid ] && fail "churn-serve left running"
echo ok
