# registry-lib.sh - helpers for the t4xx registry tests; source it after
# tests/lib.sh.  A test picks where the registry lives with use_file (index
# in a file:// store, no servers) or use_services (PostgreSQL + the S3 test
# server of scripts/services: a fresh database and bucket prefix per test).

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# field NAME FILE: the value of a top-level "NAME": "value" in JSON printed
# with an indent of 2
field() { sed -n "s/^  \"$1\": \"\\([^\"]*\\)\",\\{0,1\\}\$/\\1/p" "$2" | head -n 1; }

# train_models N: tiny models m1.churn .. mN.churn (summaries s1.json ..),
# each with its own version (SOURCE_DATE_EPOCH) and seed
train_models() {
	[ -f d.csv ] || churn-gen --rows 300 --seed 7 -o d.csv || fail "churn-gen failed"
	i=1
	while [ "$i" -le "$1" ]; do
		SOURCE_DATE_EPOCH=$((1700000000 + i * 60)) churn-train --trees 3 \
			--seed "$i" -o "m$i.churn" d.csv >"s$i.json" 2>train.err ||
			{ cat train.err >&2; fail "churn-train failed"; }
		i=$((i + 1))
	done
}

use_file() {
	unset CHURN_DATABASE_URL CHURN_S3_ENDPOINT
	CHURN_STORE="file://$PWD/store"
	mode="file"
	export CHURN_STORE
}

drop_db() {
	st=$?
	[ -n "${test_db:-}" ] && psql -X -q "$CHURN_TEST_DATABASE_URL" \
		-c "DROP DATABASE IF EXISTS $test_db WITH (FORCE)" >/dev/null 2>&1
	exit "$st"
}

use_services() {
	if [ -z "${CHURN_TEST_DATABASE_URL:-}" ] || [ -z "${CHURN_TEST_S3_ENDPOINT:-}" ]; then
		skip "no test services: CHURN_TEST_DATABASE_URL or CHURN_TEST_S3_ENDPOINT unset (tests/run starts them; by hand: scripts/services up DIR && . DIR/env)"
	fi
	test_db=t4_$$_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	trap drop_db EXIT
	psql -X -q "$CHURN_TEST_DATABASE_URL" -c "CREATE DATABASE $test_db" >/dev/null ||
		fail "cannot create database $test_db"
	CHURN_DATABASE_URL=${CHURN_TEST_DATABASE_URL%/*}/$test_db
	CHURN_S3_ENDPOINT=$CHURN_TEST_S3_ENDPOINT
	CHURN_STORE=s3://$CHURN_TEST_S3_BUCKET/$test_db
	mode="services"
	export CHURN_DATABASE_URL CHURN_S3_ENDPOINT CHURN_STORE
}

# s3 METHOD KEY [FILE]: a signed request to the test bucket, under this
# test's prefix; GET writes the object to stdout, PUT sends FILE
s3() {
	if [ "$1" = PUT ]; then
		h=$(sha_of "$3")
		set -- -X PUT --data-binary "@$3" "$2"
	else
		h=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
		set -- "$2"
	fi
	curl -fsS --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
		-H "x-amz-content-sha256: $h" "$@"
}
s3_url() { echo "$CHURN_S3_ENDPOINT/$CHURN_TEST_S3_BUCKET/$test_db/$1"; }

# stored_object VERSION OUT: the artifact as it lies in the store
stored_object() {
	if [ "$mode" = file ]; then
		cp "store/models/$1/model.churn" "$2"
	else
		s3 GET "$(s3_url "models/$1/model.churn")" >"$2" ||
			fail "cannot GET the object of $1 from the bucket"
	fi
}

# registered_sha VERSION: the sha256 the registry holds (the database row,
# or the index entry)
registered_sha() {
	if [ "$mode" = file ]; then
		churn-models show "$1" >show.out || fail "churn-models show $1 failed"
		field sha256 show.out
	else
		psql -X -At "$CHURN_DATABASE_URL" \
			-c "SELECT sha256 FROM churn_model_versions WHERE version = '$1'"
	fi
}

# listed_versions: one version a line, as churn-models list prints them
listed_versions() { churn-models list | awk 'NR > 1 { print $1 }'; }

# scenario: the life of three versions and two aliases, in the current mode
scenario() {
	train_models 3
	# push the first from churn-train's summary on stdin, as champion
	expect 0 churn-push --init --alias champion <s1.json
	v1=$(field version out)
	[ "$v1" = "$(field version s1.json)" ] || fail "pushed '$v1', trained '$(field version s1.json)'"
	[ "$(field status out)" = registered ] || fail "first push: status '$(field status out)'"
	[ "$(field sha256 out)" = "$(sha_of m1.churn)" ] || fail "push printed another sha256"
	grep -q '"champion"' out || fail "push output lacks the alias"
	[ -s err ] && fail "stderr not empty: $(cat err)"
	# a retry is idempotent
	expect 0 churn-push --alias champion m1.churn
	[ "$(field status out)" = exists ] || fail "retry: status '$(field status out)'"
	[ "$(field version out)" = "$v1" ] || fail "retry: another version"
	# the others from files
	expect 0 churn-push m2.churn
	v2=$(field version out)
	expect 0 churn-push --alias challenger m3.churn
	v3=$(field version out)
	if [ "$v1" = "$v2" ] || [ "$v2" = "$v3" ]; then fail "versions not distinct: $v1 $v2 $v3"; fi

	# list: three versions, oldest first, with metrics and aliases
	expect 0 churn-models list
	[ "$(awk 'NR > 1 { print $1 }' out | tr '\n' ' ')" = "$v1 $v2 $v3 " ] ||
		{ cat out >&2; fail "list does not show $v1 $v2 $v3"; }
	grep -q "^$v1 .* champion\$" out || { cat out >&2; fail "list: $v1 not champion"; }
	grep -q "^$v3 .* challenger\$" out || { cat out >&2; fail "list: $v3 not challenger"; }
	awk 'NR > 1 && $3 !~ /^0\.[0-9]+$/ { exit 1 }' out || { cat out >&2; fail "list: no ROC AUC"; }
	expect 0 churn-models list --json
	grep -q '"versions": \[' out || fail "list --json lacks versions"
	grep -q "\"champion\": \"$v1\"" out || fail "list --json: aliases wrong"
	grep -q '"roc_auc"' out || fail "list --json lacks metrics"
	grep -q '"trees": 3' out || fail "list --json lacks params"

	# alias set, then pull: object in the store = registry = pulled file
	expect 0 churn-models alias set champion "$v2"
	expect 0 churn-models pull champion -o pulled.churn
	[ "$(field version out)" = "$v2" ] || fail "pull champion gave '$(field version out)'"
	cmp -s pulled.churn m2.churn || fail "pulled file differs from m2.churn"
	stored_object "$v2" object.churn
	want=$(sha_of m2.churn)
	[ "$(sha_of object.churn)" = "$want" ] || fail "stored object sha256 differs"
	[ "$(registered_sha "$v2")" = "$want" ] || fail "registry sha256 '$(registered_sha "$v2")' is not $want"
	[ "$(sha_of pulled.churn)" = "$want" ] || fail "pulled file sha256 differs"
	# the pulled model is a working model
	churn-predict --help >/dev/null 2>&1 && {
		head -n 5 d.csv | churn-predict -m pulled.churn >pred.out 2>pred.err ||
			{ cat pred.err >&2; fail "churn-predict cannot use the pulled model"; }
	}
	expect 0 churn-models pull "$v3" -o -
	cmp -s out m3.churn || fail "pull -o - differs from m3.churn"
	expect 0 churn-models pull "$v1"
	cmp -s "$v1.churn" m1.churn || fail "pull without -o: $v1.churn differs"

	# show: the manifest
	expect 0 churn-models show challenger
	[ "$(field version out)" = "$v3" ] || fail "show challenger: wrong version"
	grep -q '"source"' out || fail "show lacks the data fingerprint"
	grep -q '"features"' out || fail "show lacks the schema"

	# rollback: champion back to v1, recorded; nothing earlier after that
	expect 0 churn-models rollback champion
	grep -q "\"version\": \"$v1\"" out || fail "rollback printed $(cat out)"
	expect 0 churn-models pull champion -o back.churn
	cmp -s back.churn m1.churn || fail "champion after rollback is not $v1"
	expect 2 churn-models rollback champion
	grep_err "no earlier version"

	# history, oldest first
	expect 0 churn-models history champion
	awk 'NR > 1 { print $3, $4, $5 }' out >got
	printf '%s\n' "set $v1 -" "set $v2 $v1" "rollback $v1 $v2" >want
	same want got
	expect 0 churn-models history --json
	[ "$(grep -c '"action"' out)" -eq 4 ] || fail "history --json: $(grep -c '"action"' out) events, not 4"

	# another model under a registered version is refused, nothing changes
	cp m3.churn other.churn
	SOURCE_DATE_EPOCH=$((1700000000 + 60)) churn-train --trees 4 --seed 99 \
		-o other.churn d.csv >/dev/null 2>&1 || fail "churn-train failed"
	expect 2 churn-push --keep-version --alias champion other.churn
	grep_err "version '$v1' is already registered"
	grep_err "refusing to replace it"
	expect 0 churn-models pull "$v1" -o again.churn
	cmp -s again.churn m1.churn || fail "$v1 changed after a refused push"
	# without --keep-version it is published under the next free second,
	# its name inside
	expect 0 churn-push other.churn
	vo=$(field version out)
	[ "$v1" = v20231114-221420 ] || fail "first version '$v1'"
	[ "$vo" = v20231114-221421 ] || fail "other model published as '$vo'"
	grep_err "version $v1 is another model's; published as $vo"
	expect 0 churn-models pull "$vo" -o other-got.churn
	churn-predict -m other-got.churn --describe >desc.json || fail "--describe failed"
	[ "$(field version desc.json)" = "$vo" ] || fail "$vo: the file says '$(field version desc.json)'"
	expect 0 churn-models show "$vo"
	[ "$(field renamed_from out)" = "$v1" ] || fail "$vo: manifest lacks renamed_from $v1"
	expect 0 churn-push other.churn
	[ "$(field status out)" = exists ] || fail "other model pushed again: status '$(field status out)'"
	[ "$(field version out)" = "$vo" ] || fail "other model pushed again as '$(field version out)'"

	# bad input
	expect 2 churn-push d.csv
	grep_err "d.csv: neither a model file nor churn-train's JSON summary"
	expect 2 churn-models pull nosuch
	grep_err "no version or alias 'nosuch'"
	expect 2 churn-models frobnicate
	grep_err "unknown command 'frobnicate'"
}

# rollout_scenario: churn-models rollout set / off / show and the history,
# on whichever registry use_file or use_services chose
rollout_scenario() {
	train_models 2
	expect 0 churn-push m1.churn --alias champion
	expect 0 churn-push m2.churn --alias challenger
	v2=$(field version s2.json)
	expect 0 churn-models rollout show --json
	grep -q '"mode": "off"' out || fail "a fresh registry's rollout is not off"
	grep -q '"id": 0' out || fail "a fresh registry's rollout has an id"
	CHURN_ACTOR=alice expect 0 churn-models rollout set challenger --canary 10 --reason "first look"
	grep -q '"mode": "canary"' out || fail "rollout set --canary printed $(cat out)"
	id1=$(sed -n 's/^  "id": \([0-9]*\),$/\1/p' out)
	[ "${id1:-0}" -gt 0 ] || fail "no rollout id"
	grep -q "\"challenger_version\": \"$v2\"" out || fail "challenger version not recorded"
	# more share, same challenger version: the same rollout (same id)
	CHURN_ACTOR=alice expect 0 churn-models rollout set --canary 50.5
	grep -q "\"id\": $id1," out || fail "raising the share drew a new id"
	grep -q '"share": 50.5' out || fail "share 50.5 not kept"
	CHURN_ACTOR=bob expect 0 churn-models rollout off --reason "done"
	expect 0 churn-models rollout show --json
	grep -q '"mode": "off"' out || fail "rollout off did not stick"
	grep -q '"actor": "bob"' out || fail "actor not kept"
	CHURN_ACTOR=bob expect 0 churn-models rollout set --shadow
	id2=$(sed -n 's/^  "id": \([0-9]*\),$/\1/p' out)
	[ "$id2" -gt "$id1" ] || fail "a new rollout after off kept id $id1 ($id2)"
	grep -q '"share": 100' out || fail "shadow share is not 100"
	expect 0 churn-models rollout show
	grep -q "^rollout $id2: shadow 100% champion=champion challenger=challenger ($v2)" out ||
		fail "rollout show printed $(cat out)"
	expect 0 churn-models history challenger --json
	[ "$(grep -c '"action": "rollout"' out)" -eq 4 ] || fail "history lacks the 4 rollout events"
	grep -q '"reason": "first look"' out || fail "history lacks the reason"
	grep -q '"actor": "alice"' out || fail "history lacks who"
	expect 0 churn-models history
	grep -q "rollout .*canary 10% champion=champion id=$id1 by alice: first look" out ||
		fail "history table lacks the rollout: $(cat out)"
	# refusals
	expect 2 churn-models rollout set --canary 101
	grep_err "--canary"
	expect 2 churn-models rollout set nosuch --canary 5
	grep_err "no version or alias 'nosuch'"
	expect 2 churn-models rollout set challenger --champion challenger --shadow
	grep_err "the same alias"
	expect 2 churn-models rollout set challenger
	expect 2 churn-models rollout off --canary 3
	expect 2 churn-models list --reason x
	expect 0 churn-models rollout show --json
	grep -q "\"id\": $id2," out || fail "a refused rollout set changed the rollout"
}
