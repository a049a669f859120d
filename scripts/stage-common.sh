# stage-common.sh - shared by scripts/pipeline and the scripts/stage-* programs.
# Sourced, not run.  It loads the configuration and defines small helpers.
#
# Configuration, in order of precedence:
#   1. the environment (Jenkins credentials, cron, the shell);
#   2. $CHURN_ENV_FILE (default .env at the top of the checkout), written by
#      scripts/stage-env from .env.example;
#   3. $CHURN_PIPELINE_DIR/services.env, written by `stage-services up` when it
#      started throwaway local services (it overrides 1 and 2: those services'
#      addresses are only known once they run).
# State and artifacts of a run live in $CHURN_PIPELINE_DIR (default var/pipeline).
# shellcheck shell=sh

top=$(cd "$(dirname "$0")/.." && pwd)
prog=$(basename "$0")

say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "$*"; exit 2; }

# load_env FILE [override]: read KEY=VALUE lines (comments and blank lines
# allowed, one level of matching quotes stripped) and export them.  Without
# "override", a variable already set to a value in the environment keeps it
# (empty counts as not set: scripts/pipeline exports .env as it was before
# stage-env filled in a fresh admin token).
# Never prints a value: the file holds secrets.
load_env() {
	[ -f "$1" ] || return 0
	_n=0
	while IFS= read -r _line || [ -n "$_line" ]; do
		_n=$((_n + 1))
		case $_line in '' | '#'*) continue ;; esac
		_key=${_line%%=*}
		_val=${_line#*=}
		case $_key in
		'' | [0-9]* | *[!A-Za-z0-9_]*) die "$1:$_n: not a KEY=VALUE line" ;;
		esac
		[ "$_key" != "$_line" ] || die "$1:$_n: not a KEY=VALUE line"
		case $_val in
		\"*\") _val=${_val#\"}; _val=${_val%\"} ;;
		\'*\') _val=${_val#\'}; _val=${_val%\'} ;;
		esac
		if [ "${2:-}" = override ] || eval "[ -z \"\${$_key:-}\" ]"; then
			export "$_key=$_val"
		fi
	done <"$1"
}

: "${CHURN_ENV_FILE:=$top/.env}"
load_env "$CHURN_ENV_FILE"
: "${CHURN_PIPELINE_DIR:=$top/var/pipeline}"
load_env "$CHURN_PIPELINE_DIR/services.env" override

: "${CHURN_API_URL:=http://127.0.0.1:8000}"
: "${CHURN_ALIAS:=champion}"
export CHURN_ENV_FILE CHURN_PIPELINE_DIR CHURN_API_URL CHURN_ALIAS
state=$CHURN_PIPELINE_DIR
mkdir -p "$state"

# The programs: the checkout's build when there is one, else $PATH.
[ -d "$top/bin" ] && PATH=$top/bin:$PATH
[ -n "${CHURN_BIN:-}" ] && PATH=$CHURN_BIN:$PATH
export PATH

need() {
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || die "'$_c' not found on PATH"
	done
}

# http METHOD PATH OUTFILE [curl options...]: one request to the API; the
# body goes to OUTFILE and the status to $http_status.  A connection failure
# is fatal; the caller judges the status.
http() {
	_m=$1 _p=$2 _o=$3
	shift 3
	http_status=$(curl -sS --max-time "${CHURN_HTTP_TIMEOUT:-60}" -o "$_o" \
		-w '%{http_code}' -X "$_m" "$@" "$CHURN_API_URL$_p") ||
		die "$_m $CHURN_API_URL$_p: no answer"
}

# expect_status WANT METHOD PATH FILE: fail naming the route and the answer
expect_status() {
	[ "$http_status" = "$1" ] && return 0
	_e=$(jq -r '.error? // empty' "$4" 2>/dev/null || true)
	die "$2 $3: status $http_status, not $1${_e:+: $_e}"
}

# auth_header: path of a file with the admin token's Authorization header
# (curl -H @file), so that the token never shows in a process listing.
auth_header() {
	[ -n "${CHURN_ADMIN_TOKEN:-}" ] || die "CHURN_ADMIN_TOKEN is not set (see .env.example)"
	(umask 077 && printf 'Authorization: Bearer %s\n' "$CHURN_ADMIN_TOKEN" >"$state/auth.header")
	echo "$state/auth.header"
}

# registry_json: the registry listing (churn-models list --json) into
# $state/models.json; alias_version ALIAS prints the version it names (empty
# when none); version_field VERSION FIELD prints one field of a version.
registry_json() {
	need churn-models
	churn-models list --json >"$state/models.json.tmp" ||
		die "churn-models list failed (store ${CHURN_STORE:-default})"
	mv "$state/models.json.tmp" "$state/models.json"
}
alias_version() {
	jq -r --arg a "$1" '.aliases[$a] // empty' "$state/models.json"
}
version_field() {
	jq -r --arg v "$1" --arg f "$2" \
		'.versions[] | select(.version == $v) | .[$f] // empty' "$state/models.json"
}

# status_get FILE KEY: value of KEY=VALUE in a state file (empty if none)
status_get() {
	[ -f "$1" ] || return 0
	sed -n "s/^$2=//p" "$1" | tail -n 1
}

# drift_options: churn-drift's options from the configuration, one word
# each (CHURN_DRIFT_MIN_ROWS, CHURN_DRIFT_PSI_THRESHOLD,
# CHURN_DRIFT_L1_THRESHOLD, CHURN_DRIFT_SHARE; unset or empty: its default)
drift_options() {
	[ -n "${CHURN_DRIFT_MIN_ROWS:-}" ] && echo "--min-rows=$CHURN_DRIFT_MIN_ROWS"
	[ -n "${CHURN_DRIFT_PSI_THRESHOLD:-}" ] && echo "--psi-threshold=$CHURN_DRIFT_PSI_THRESHOLD"
	[ -n "${CHURN_DRIFT_L1_THRESHOLD:-}" ] && echo "--l1-threshold=$CHURN_DRIFT_L1_THRESHOLD"
	[ -n "${CHURN_DRIFT_SHARE:-}" ] && echo "--drift-share=$CHURN_DRIFT_SHARE"
	return 0
}

# now_ms: milliseconds since the epoch (GNU date)
now_ms() { date +%s%3N; }

# An empty value means "not configured" to the programs' environment too.
for _v in CHURN_DATABASE_URL CHURN_S3_ENDPOINT CHURN_STORE CHURN_TRAIN_DATA \
	CHURN_CURRENT_DATA CHURN_AUC_MARGIN CHURN_VERIFY_CUSTOMER; do
	eval "[ -n \"\${$_v:-}\" ] || unset $_v"
done
