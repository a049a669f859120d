#!/bin/sh
# t7000-ui-mock: the web UI against a mock of churn-serve's JSON routes
# (tests/browser/mock-serve.js): quick checks of the page alone.  The
# acceptance test against the real server is t7001-ui.
if [ -n "${CHURN_TOP:-}" ]; then
	top=$CHURN_TOP
else	# run alone, not by tests/run: work in tests/out as tests/run would
	top=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
	mkdir -p "$top/tests/out/browser-t7000-ui-mock" && cd "$top/tests/out/browser-t7000-ui-mock" || exit 2
fi
CHURN_BIN=${CHURN_BIN:-$top/build/bin} CHURN_TOP=$top
export CHURN_BIN CHURN_TOP
# shellcheck disable=SC1091
. "$top/tests/lib.sh"

[ -x /usr/bin/chromium ] || skip "no /usr/bin/chromium (apt-get install chromium)"
command -v node >/dev/null || skip "no node"
[ -d "$top/tests/node_modules/playwright-core" ] ||
	skip "no playwright-core in tests/node_modules (cd tests && npm install)"

CHURN_ADMIN_TOKEN=mock-token-$$
export CHURN_ADMIN_TOKEN
node "$top/tests/browser/mock-serve.js" 0 >mock.out 2>mock.err &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
i=0
until grep -q '^listening' mock.out 2>/dev/null; do
	i=$((i + 1))
	[ $i -le 100 ] || { cat mock.err >&2; fail "mock server did not start"; }
	sleep 0.1
done
port=$(sed -n 's/^listening //p' mock.out)

CHURN_UI_URL=http://127.0.0.1:$port/ CHURN_UI_SHOTS=$PWD CHURN_UI_NAME=ui-mock \
	node "$top/tests/browser/ui.test.js" || fail "browser checks failed (mock server)"
