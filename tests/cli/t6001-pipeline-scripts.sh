# The pipeline's scripts: shellcheck-clean, --help for each; stage-env writes
# .env from the template and the environment, mode 0600, secrets never
# printed; the driver runs the stages in order, times them and stops at the
# first failure with its exit status; pipeline-cron never lets two runs
# overlap.  (The stages' real work is tested end to end by t6000.)
. "$CHURN_TOP/tests/lib.sh"
command -v shellcheck >/dev/null 2>&1 || skip "shellcheck is not installed"
scripts="pipeline pipeline-cron stage-common.sh stage-env stage-services stage-smoke
stage-drift stage-retrain stage-reload stage-verify stage-build stage-test stage-deploy
first-model stage-promote"
for s in $scripts; do
	f=$CHURN_TOP/scripts/$s
	[ -f "$f" ] || fail "scripts/$s is missing"
	head -n 20 "$f" | grep -q '^set -eu$' || [ "$s" = stage-common.sh ] || fail "scripts/$s: no 'set -eu'"
done
(cd "$CHURN_TOP/scripts" && shellcheck -x $scripts) >sc.out 2>&1 || { cat sc.out; fail "shellcheck complains"; }

# Work on a copy of the scripts, so that the driver tests can stub stages.
mkdir -p top/scripts
cp "$CHURN_TOP/.env.example" top/
for s in $scripts; do cp "$CHURN_TOP/scripts/$s" top/scripts/; done
export CHURN_PIPELINE_DIR="$PWD/state" CHURN_ENV_FILE="$PWD/top/.env"
unset CHURN_ADMIN_TOKEN AWS_SECRET_ACCESS_KEY CHURN_DATABASE_URL CHURN_STORE CHURN_ALIAS

for s in $scripts; do
	case $s in *.sh) continue ;; esac
	top/scripts/$s --help >help 2>&1 || fail "$s --help failed"
	grep -q "^$s - " help || { cat help; fail "$s --help does not start with its name"; }
done
expect 2 top/scripts/stage-smoke --bogus
grep_err "unknown argument '--bogus'"

# --- stage-env ----------------------------------------------------------
AWS_SECRET_ACCESS_KEY='s3cr3t value' CHURN_ALIAS=prod CHURN_DATABASE_URL=postgresql://u:pw@db/churn \
	top/scripts/stage-env --print >out 2>err || { cat err; fail "stage-env failed"; }
[ "$(stat -c %a top/.env)" = 600 ] || fail ".env mode is $(stat -c %a top/.env), not 600"
grep -qx 'AWS_SECRET_ACCESS_KEY=s3cr3t value' top/.env || fail ".env lacks the secret from the environment"
grep -qx 'CHURN_ALIAS=prod' top/.env || fail "the environment does not win over the template"
grep -qx 'CHURN_STORE=s3://churn' top/.env || fail "the template's default is not written"
grep -qE '^CHURN_ADMIN_TOKEN=[0-9a-f]{48}$' top/.env || fail "no admin token generated"
keys=$(grep -cE '^[A-Za-z_]+=' "$CHURN_TOP/.env.example")
[ "$(grep -cE '^[A-Za-z_]+=' top/.env)" -eq "$keys" ] || fail ".env does not have the template's $keys keys"
grep -qx 'AWS_SECRET_ACCESS_KEY=(set)' out || { cat out; fail "--print does not mask the secret"; }
grep -qx 'CHURN_WEBHOOK_SECRET=(empty)' out || { cat out; fail "--print does not say an empty secret is empty"; }
grep -q 's3cr3t\|pw@' out err && fail "stage-env printed a secret"
token=$(sed -n 's/^CHURN_ADMIN_TOKEN=//p' top/.env)
# a second run keeps the token (the running API uses it) and the values of .env
top/scripts/stage-env 2>err || { cat err; fail "second stage-env failed"; }
grep -qx "CHURN_ADMIN_TOKEN=$token" top/.env || fail "the admin token changed on the second run"
grep -qx 'CHURN_ALIAS=prod' top/.env || fail ".env's own values are lost on the second run"
# .env is read by the stages with the environment winning; quotes are stripped
printf 'CHURN_ALIAS="quoted"\nCHURN_API_URL=http://127.0.0.1:1\n' >top/.env
printf '#!/bin/sh\nset -eu\n. "$(dirname "$0")/stage-common.sh"\necho "$CHURN_ALIAS $CHURN_API_URL"\n' >top/scripts/stage-show
chmod +x top/scripts/stage-show
[ "$(top/scripts/stage-show)" = "quoted http://127.0.0.1:1" ] || fail ".env not read: $(top/scripts/stage-show)"
[ "$(CHURN_ALIAS=env top/scripts/stage-show)" = "env http://127.0.0.1:1" ] || fail "the environment does not win over .env"
printf 'no equals sign\n' >top/.env
expect 2 top/scripts/stage-show
grep_err ".env:1: not a KEY=VALUE line"
rm top/.env top/scripts/stage-show

# --- the driver, with stub stages ---------------------------------------
top/scripts/pipeline --list >list
printf 'scripts/stage-%s\n' env services smoke drift retrain reload verify promote >want
same want list
for s in env services smoke drift retrain reload verify promote; do
	printf '#!/bin/sh\necho %s >>"$CHURN_PIPELINE_DIR/ran"\nexit ${FAIL_%s:-0}\n' "$s" "$s" >top/scripts/stage-$s
done
mkdir -p state
: >state/ran
expect 0 top/scripts/pipeline
printf '%s\n' env services smoke drift retrain reload verify promote >want
same want state/ran
grep -q '^--- \[3/8\] smoke: ok ([0-9]*\.[0-9][0-9][0-9] s)$' out || { cat out; fail "no timing line for smoke"; }
grep -q '^pipeline: all 8 stages passed' out || fail "no final line"
: >state/ran
FAIL_drift=3 expect 3 top/scripts/pipeline
printf '%s\n' env services smoke drift >want
same want state/ran
grep -q '^--- \[4/8\] drift: FAILED (exit 3)' out || { cat out; fail "the failed stage is not named"; }
grep -q "^pipeline: stopped at stage 'drift'" out || fail "no 'stopped at' line"
: >state/ran
expect 0 top/scripts/pipeline --from retrain
printf '%s\n' retrain reload verify promote >want
same want state/ran
expect 2 top/scripts/pipeline --from nosuch
grep_err "no stage 'nosuch'"

# --- pipeline-cron: a lock, so two runs never overlap ------------------------
printf '#!/bin/sh\necho smoke >>"$CHURN_PIPELINE_DIR/ran"\n[ -z "${HOLD:-}" ] || { touch "$CHURN_PIPELINE_DIR/holding"; while [ -f "$HOLD" ]; do sleep 0.05; done; }\n' >top/scripts/stage-smoke
: >state/ran
touch hold
HOLD=$PWD/hold top/scripts/pipeline-cron &
first=$!
i=0
while ! [ -f state/holding ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
[ -f state/holding ] || { kill $first; fail "the first run never reached smoke"; }
expect 75 top/scripts/pipeline-cron
grep_err "another pipeline run holds"
rm hold
wait $first || fail "the first cron run failed"
[ "$(grep -c smoke state/ran)" -eq 1 ] || fail "the second run ran stages while the first held the lock"
grep -q 'pipeline: all 8 stages passed' state/pipeline.log || { cat state/pipeline.log; fail "no log of the cron run"; }
expect 0 top/scripts/pipeline-cron
[ "$(grep -c smoke state/ran)" -eq 2 ] || fail "a run after the first one ended did not run"
exit 0
