# docker/Dockerfile passes dockerfilelint (pinned in tests/lint/package.json);
# a copy with a planted mistake is refused.
. "$CHURN_TOP/tests/lib.sh"
. "$CHURN_TOP/tests/lint/install.sh"
need_lint dockerfilelint

"$lint_bin/dockerfilelint" "$CHURN_TOP/docker/Dockerfile" >lint.out 2>&1 ||
	{ cat lint.out; fail "dockerfilelint found problems in docker/Dockerfile"; }
sed 's/^EXPOSE 8000$/EXPOSE 80000/' "$CHURN_TOP/docker/Dockerfile" >Dockerfile
cmp -s Dockerfile "$CHURN_TOP/docker/Dockerfile" && fail "could not break the copy"
"$lint_bin/dockerfilelint" Dockerfile >bad.out 2>&1 &&
	{ cat bad.out; fail "dockerfilelint accepted EXPOSE 80000"; }
exit 0
