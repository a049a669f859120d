# The Jenkinsfile's build, test and deploy stages, run as Jenkins runs them,
# in their non-Docker mode: stage-build builds, stage-test runs its
# (overridden) command and fails with it, stage-deploy installs with make
# install, restarts the server and waits for /ready, and when the new
# programs never become ready puts the previous ones back, restarts, and
# fails saying it rolled back.
. "$CHURN_TOP/tests/lib.sh"
for c in curl make; do command -v $c >/dev/null 2>&1 || skip "$c is not installed"; done
[ -x "$CHURN_TOP/build/bin/churn-serve" ] || skip "no plain build in $CHURN_TOP/build (make)"
# the stages' make runs the plain build, even inside `make SAN=1 check-san`
unset MAKEFLAGS MFLAGS MAKELEVEL
export CHURN_PIPELINE_DIR="$PWD/state" CHURN_ENV_FILE="$PWD/no.env"
unset CHURN_BUILD_CMD CHURN_TEST_CMD CHURN_RESTART_CMD CHURN_PREFIX CHURN_DEPLOY

cleanup() {
	st=$?
	[ -f serve.pid ] && kill "$(cat serve.pid)" 2>/dev/null
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- build: the real one (the checkout is built already: quick) --------
expect 0 "$CHURN_TOP/scripts/stage-build"
grep_err "building: make -j2 all"
CHURN_BUILD_CMD=false expect 2 "$CHURN_TOP/scripts/stage-build"
grep_err "build failed: false"

# --- test: the command overridden, never make check itself -------------
CHURN_TEST_CMD="touch '$PWD/tested'" expect 0 "$CHURN_TOP/scripts/stage-test"
[ -f tested ] || fail "stage-test did not run CHURN_TEST_CMD"
CHURN_TEST_CMD='exit 3' expect 3 "$CHURN_TOP/scripts/stage-test"
grep_err "tests failed (exit 3)"

# --- deploy, install mode -------------------------------------------------
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export CHURN_API_URL=http://127.0.0.1:$port CHURN_PREFIX=$PWD/prefix CHURN_DEPLOY=install CHURN_READY_WAIT=5
churn-gen --rows 500 --seed 1 -o d.csv && churn-train --trees 5 -o m.model d.csv >/dev/null 2>&1 ||
	fail "cannot train a model"
# the restart: stop the server of serve.pid, start the installed one
cat >restart <<SH
#!/bin/sh
if [ -f '$PWD/serve.pid' ]; then
	pid=\$(cat '$PWD/serve.pid')
	kill "\$pid" 2>/dev/null
	i=0; while kill -0 "\$pid" 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i + 1)); done
fi
'$PWD/prefix/bin/churn-serve' --listen 127.0.0.1:$port --model '$PWD/m.model' --state-dir '$PWD/st' \
	</dev/null >>'$PWD/serve.log' 2>&1 &
echo \$! >'$PWD/serve.pid'
SH
chmod +x restart
export CHURN_RESTART_CMD="$PWD/restart"

# the real make install, from the checkout
expect 0 "$CHURN_TOP/scripts/stage-deploy"
grep_err "the new programs answer /ready"
cmp -s prefix/bin/churn-serve "$CHURN_TOP/build/bin/churn-serve" || fail "make install did not install the build's churn-serve"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$CHURN_API_URL/ready")" = 200 ] || fail "not ready after the deploy"
first=$(cat serve.pid)

# a build whose churn-serve never becomes ready: the same scripts in a
# tree whose make install puts a broken churn-serve there
mkdir -p bad/scripts
cp "$CHURN_TOP/scripts/stage-deploy" "$CHURN_TOP/scripts/stage-common.sh" bad/scripts/
printf '#!/bin/sh\necho "churn-serve: broken build" >&2\nexit 1\n' >bad/churn-serve
printf 'install:\n\tinstall -D -m 755 churn-serve $(PREFIX)/bin/churn-serve\n' >bad/Makefile
expect 2 bad/scripts/stage-deploy
grep_err "/ready did not answer 200 within 5s: rolling back to the previous programs"
grep_err "rolled back: the previous version answers /ready again"
cmp -s prefix/bin/churn-serve "$CHURN_TOP/build/bin/churn-serve" || fail "the previous churn-serve was not put back"
[ "$(cat serve.pid)" != "$first" ] || fail "the server was not restarted"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$CHURN_API_URL/ready")" = 200 ] || fail "not ready after the roll-back"
grep -q 'broken build' serve.log || fail "the broken build never ran"

CHURN_DEPLOY=bogus expect 2 "$CHURN_TOP/scripts/stage-deploy"
grep_err "CHURN_DEPLOY='bogus'"
echo ok
