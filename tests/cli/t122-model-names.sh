#!/bin/sh
# every -m takes a file, -, an alias or a version; the registry is found in
# the one default store (./var/store) when nothing is configured
. "$CHURN_TOP/tests/lib.sh"

unset CHURN_STORE CHURN_DATABASE_URL CHURN_S3_ENDPOINT
churn-gen --rows 500 --seed 9 -o d.csv || fail "churn-gen failed"
SOURCE_DATE_EPOCH=1700000000 churn-train -q --trees 5 -o m.churn d.csv >/dev/null ||
    fail "churn-train failed"
expect 0 churn-push --init --alias champion m.churn
grep -q '"version": "v20231114-221320"' out || fail "push: $(cat out)"
[ -f var/store/models/v20231114-221320/model.churn ] ||
    fail "churn-push did not use ./var/store"

expect 0 churn-predict -m m.churn d.csv
cp out by-file.csv
for name in champion v20231114-221320; do
	expect 0 churn-predict -m "$name" d.csv
	same by-file.csv out
done
expect 0 churn-predict -m - d.csv <m.churn
same by-file.csv out

churn-drift -m m.churn d.csv >drift-file.json
[ $? -le 1 ] || fail "churn-drift -m m.churn failed"
churn-drift -m champion d.csv >drift-name.json 2>err
[ $? -le 1 ] || { cat err >&2; fail "churn-drift -m champion failed"; }
# the same report but for the time it was made
sed 's/"time":"[^"]*"//' drift-file.json >a.json
sed 's/"time":"[^"]*"//' drift-name.json >b.json
same a.json b.json

# a word with a '/' is a file even when missing; an existing path is a
# file even without one
expect 2 churn-predict -m ./champion d.csv
grep_err "open ./champion: No such file or directory"
cp m.churn champion
expect 0 churn-predict -m champion d.csv
same by-file.csv out
rm champion
# neither a file nor a name: both are said
expect 2 churn-predict -m challenger d.csv
grep_err "open challenger: No such file or directory, and no version or alias 'challenger'"
expect 2 churn-drift -m challenger d.csv
grep_err "open challenger: No such file or directory, and no version or alias 'challenger'"

# churn-models show: a name from the registry, a file from itself
expect 0 churn-models show champion
grep -q '"version": "v20231114-221320"' out || fail "show champion: $(cat out)"
expect 0 churn-models show ./m.churn
grep -q '"version": "v20231114-221320"' out || fail "show ./m.churn: $(cat out)"
# another store by flag or environment: the name is not there
expect 2 env CHURN_STORE="file://$PWD/elsewhere" churn-predict -m champion d.csv
grep_err "elsewhere"
exit 0
