# tests/lint/install.sh - sourced by the lint tests after tests/lib.sh:
# makes the linters pinned in tests/lint/package.json available, installing
# them on the fly (npm ci) when missing, or skips the test, saying why, when
# npm or its registry is not reachable.
lint=$CHURN_TOP/tests/lint
lint_bin=$lint/node_modules/.bin
need_lint() {
	[ -x "$lint_bin/$1" ] && return 0
	command -v npm >/dev/null 2>&1 || skip "$1: npm is not installed"
	echo "installing the linters of tests/lint/package.json (npm ci)"
	(cd "$lint" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >npm.log 2>&1 ||
		skip "$1: npm ci in tests/lint failed (npm registry unreachable?): $(tail -n 1 npm.log)"
	[ -x "$lint_bin/$1" ] || skip "$1: not installed by npm ci in tests/lint"
}
