#!/bin/sh
# The compose stack built and run for real: a Docker engine of its own
# (--iptables=false --bridge=none, data-root and socket in a temp dir, always
# stopped at the end), debian:bookworm made locally by debootstrap (the
# tarball cached in $CHURN_DOCKER_CACHE), the project's image from
# docker/Dockerfile, and docker/compose.yaml brought up from nothing with
# Debian's docker-compose 1.29 plus tests/docker/compose.test.yaml (local
# stand-ins for postgres:15 and MinIO, host networking on free loopback
# ports).  The API must answer /ready 200 on the first model its init
# service published, a /predict, follow a push (and a /reload), and go down
# cleanly.  Jenkins is not started (its base image cannot be had here).
. "$CHURN_TOP/tests/lib.sh"
t0=$(date +%s)
for c in dockerd docker-compose debootstrap jq curl; do
	command -v $c >/dev/null 2>&1 || skip "$c is not installed (scripts/install-deps installs docker.io, docker-compose, debootstrap)"
done
[ -x /usr/bin/docker ] || skip "/usr/bin/docker (Debian's docker.io client) is not installed"
[ "$(id -u)" -eq 0 ] || skip "dockerd needs root"
node=$(command -v node) && [ -d "$CHURN_TOP/tests/node_modules/@20minutes/s3rver" ] ||
	skip "no node or tests/node_modules for the S3 stand-in (scripts/install-deps)"

# The engine's own files: a short path (unix sockets), apart from the
# build context.  Its data-root (images, build cache) is thrown away too,
# unless CHURN_DOCKER_DATA names one to keep between runs (the apt layers
# then cost nothing the second time; one run at a time uses it).
D=$(mktemp -d /tmp/churn-docker.XXXXXX)
data=$D/data
if [ -n "${CHURN_DOCKER_DATA:-}" ]; then
	mkdir -p "$CHURN_DOCKER_DATA" || fail "cannot make $CHURN_DOCKER_DATA"
	exec 8>"$CHURN_DOCKER_DATA.lock"
	if flock -n 8; then
		data=$CHURN_DOCKER_DATA
		echo "data-root kept in $data"
	else
		echo "$CHURN_DOCKER_DATA is in use by another run: a throwaway data-root"
	fi
fi
export DOCKER_HOST=unix://$D/docker.sock
# compose 1.29 builds through the docker CLI with BuildKit (only the stages
# a target needs; the jenkins stage's base cannot be had); Debian's 20.10
# client has BuildKit built in
mkdir -p "$D/bin" && ln -s /usr/bin/docker "$D/bin/docker"
PATH=$D/bin:$PATH
export COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=1 COMPOSE_PROJECT_NAME=churnt

tree=$PWD/tree
# docker-compose 1.29 refuses published ports with host networking, and an
# override can only add to a list: the merged file (docker-compose config)
# minus the ports of the host-network services is what runs
compose() {
	docker-compose -f "$tree/docker/stack.yaml" "$@"
}
stop_engine() {
	st=$?
	if [ -f "$D/dockerd.pid" ]; then
		compose down -v -t 5 >/dev/null 2>&1
		pid=$(cat "$D/dockerd.pid")
		kill "$pid" 2>/dev/null
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	[ -n "${dockerd_pid:-}" ] && wait "$dockerd_pid" 2>/dev/null
	grep -q " $D/" /proc/mounts && awk -v d="$D/" 'index($2, d) == 1 { print $2 }' /proc/mounts |
		sort -r | while read -r m; do umount -l "$m"; done
	rm -rf "$D"
	echo "t800: $(( $(date +%s) - t0 )) s in all"
	exit "$st"
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

dockerd --data-root "$data" --exec-root "$D/exec" -H "unix://$D/docker.sock" \
	--pidfile "$D/dockerd.pid" --iptables=false --ip6tables=false --bridge=none \
	>"$D/dockerd.log" 2>&1 &
dockerd_pid=$!
i=0
until docker version >/dev/null 2>&1; do
	kill -0 $dockerd_pid 2>/dev/null || { tail -n 5 "$D/dockerd.log"; skip "dockerd cannot start here (log above)"; }
	i=$((i + 1)); [ $i -gt 300 ] && { tail -n 5 "$D/dockerd.log"; skip "dockerd did not answer within 30 s (log above)"; }
	sleep 0.1
done
t_engine=$(date +%s)

# debian:bookworm, made locally (no registry to pull from)
cache=${CHURN_DOCKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/churn}
base=$cache/debian-bookworm.tar
if ! [ -s "$base" ]; then
	mirror=${CHURN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
	echo "debootstrap bookworm from $mirror (cached in $base)"
	mkdir -p "$cache"
	debootstrap --variant=minbase bookworm "$D/root" "$mirror" >"$D/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$D/debootstrap.log"; fail "debootstrap failed"; }
	tar -C "$D/root" -c . >"$base.tmp" && mv "$base.tmp" "$base" || fail "cannot write $base"
	rm -rf "$D/root"
fi
# a kept data-root may hold what a killed run left
# shellcheck disable=SC2046
[ -n "$(docker ps -aq)" ] && docker rm -f $(docker ps -aq) >/dev/null
docker volume prune -f >/dev/null
docker import - debian:bookworm <"$base" >/dev/null || fail "docker import failed"
docker tag debian:bookworm debian:12 && docker tag debian:bookworm debian:12-slim || fail "docker tag failed"
t_base=$(date +%s)

# The checkout as a user has it (its .env made from .env.example), apart
# from the engine's files; the stand-ins' build contexts beside it.
mkdir -p "$tree" images
(cd "$CHURN_TOP" && tar -c --exclude=./.git --exclude=./build --exclude=./build-san --exclude=./build-fuzz \
	--exclude=./bin --exclude=./var --exclude='./tests/out*' --exclude=./tests/node_modules --exclude=./.env .) |
	tar -C "$tree" -x || fail "cannot copy the checkout"
cp "$CHURN_TOP/tests/docker/compose.test.yaml" "$tree/docker/"
cp -r "$CHURN_TOP/tests/docker/images/postgres" images/
cp -r "$CHURN_TOP/tests/docker/images/s3" images/
cp "$node" images/s3/node && cp "$CHURN_TOP/tests/s3server.js" images/s3/ &&
	cp -r "$CHURN_TOP/tests/node_modules" images/s3/ || fail "cannot make the S3 stand-in's context"
sed -e 's/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=pg-secret-t800/' \
	-e 's/^AWS_SECRET_ACCESS_KEY=.*/AWS_SECRET_ACCESS_KEY=s3-secret-t800/' \
	-e 's/^CHURN_ADMIN_TOKEN=.*/CHURN_ADMIN_TOKEN=tok/' \
	-e 's/^CHURN_TRAIN_FLAGS=.*/CHURN_TRAIN_FLAGS=--trees 20 --seed 1/' \
	"$CHURN_TOP/.env.example" >"$tree/.env"
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
CHURN_T_PG_PORT=$(free_port) CHURN_T_S3_PORT=$(free_port) CHURN_T_API_PORT=$(free_port)
CHURN_T_IMAGES=$PWD/images
export CHURN_T_PG_PORT CHURN_T_S3_PORT CHURN_T_API_PORT CHURN_T_IMAGES
api=http://127.0.0.1:$CHURN_T_API_PORT

docker-compose -f "$tree/docker/compose.yaml" -f "$tree/docker/compose.test.yaml" config >merged.yaml ||
	fail "docker-compose config rejects compose.yaml with the test override"
/usr/bin/python3 - merged.yaml "$tree/docker/stack.yaml" <<'PY' || fail "cannot drop the published ports"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for s in doc["services"].values():
    if s.get("network_mode") == "host":
        s.pop("ports", None)
yaml.safe_dump(doc, open(sys.argv[2], "w"), sort_keys=False)
PY
compose config -q || fail "docker-compose config rejects the stack"
compose build postgres minio api >build.log 2>&1 || { tail -n 30 build.log; fail "docker-compose build failed"; }
t_build=$(date +%s)

# up from nothing: the api and what it needs (postgres, minio, minio-init, init)
compose up -d api >up.log 2>&1 || { cat up.log; compose logs --no-color | tail -n 40; fail "docker-compose up failed"; }
i=0
until [ "$(curl -s -o ready.json -w '%{http_code}' "$api/ready")" = 200 ]; do
	i=$((i + 1))
	[ $i -gt 1200 ] && { compose ps; compose logs --no-color | tail -n 40; fail "/ready not 200 within 120 s of up"; }
	sleep 0.1
done
t_up=$(date +%s)
compose logs --no-color init >init.log 2>&1
grep -q 'NO TRAINING DATA' init.log || { cat init.log; fail "init did not say loudly that it trained on demo data"; }
v1=$(sed -n "s/.*published \(v[0-9-]*\) as 'champion'.*/\1/p" init.log)
[ -n "$v1" ] || { cat init.log; fail "init published no model"; }
curl -s "$api/health" >health.json
jq -e --arg v "$v1" '.model_version == $v' health.json >/dev/null ||
	fail "the API serves $(jq -r .model_version health.json), not $v1, the version init published"
[ "$(compose ps -q init | xargs docker inspect -f '{{.State.ExitCode}}')" = 0 ] || fail "init did not exit 0"

# a prediction
churn-gen --rows 5 --seed 3 -o five.csv || fail "churn-gen failed"
awk 'NR <= 2' five.csv | jq -R -s -c 'split("\n") | map(select(length > 0) | split(","))
	| .[0] as $h | .[1] | [range(0; $h | length) as $i | {($h[$i]): .[$i]}] | add | del(.Churn)' >customer.json
s=$(curl -s -o predict.json -w '%{http_code}' "$api/predict" -H 'Content-Type: application/json' --data-binary @customer.json)
[ "$s" = 200 ] || fail "/predict: status $s: $(cat predict.json)"
jq -e '.churn_probability >= 0 and .churn_probability <= 1' predict.json >/dev/null ||
	fail "/predict answered $(cat predict.json)"

# a push from here moves the alias: the API follows it, and /reload agrees
churn-gen --rows 1000 --seed 4 -o b.csv && churn-train --trees 10 -o b.churn b.csv >b.json 2>/dev/null ||
	fail "cannot train the second model"
CHURN_STORE=s3://churn CHURN_S3_ENDPOINT=http://127.0.0.1:$CHURN_T_S3_PORT \
CHURN_DATABASE_URL=postgresql://churn:pg-secret-t800@127.0.0.1:$CHURN_T_PG_PORT/churn \
AWS_ACCESS_KEY_ID=churn AWS_SECRET_ACCESS_KEY=s3-secret-t800 AWS_REGION=us-east-1 \
	churn-push --alias champion b.churn >push.json || fail "churn-push to the stack failed"
v2=$(jq -r .version push.json)
i=0
until curl -s "$api/health" >health.json && jq -e --arg v "$v2" '.model_version == $v' health.json >/dev/null; do
	i=$((i + 1)); [ $i -gt 300 ] && { compose logs --no-color api | tail; fail "the API did not follow the push to $v2 within 30 s"; }
	sleep 0.1
done
echo "the API followed the push after about $((i * 100)) ms"
s=$(curl -s -o reload.json -w '%{http_code}' -X POST -H 'Authorization: Bearer tok' "$api/reload")
[ "$s" = 200 ] && jq -e --arg v "$v2" '.model_version == $v' reload.json >/dev/null ||
	fail "POST /reload: status $s: $(cat reload.json)"

# the Jenkinsfile's deploy stage in its Docker mode: the api rolled onto a
# rebuilt image; then onto a broken one (no churn-serve in it), which never
# becomes ready, so the previous image is put back
t_deploy=$(date +%s)
export COMPOSE_FILE="$tree/docker/stack.yaml" CHURN_DEPLOY=docker CHURN_API_URL=$api \
	CHURN_PIPELINE_DIR=$PWD/pipeline CHURN_ENV_FILE=$tree/.env CHURN_READY_WAIT=15
"$tree/scripts/stage-deploy" >deploy.log 2>&1 || { cat deploy.log; fail "stage-deploy (docker) failed"; }
grep -q 'the new image answers /ready' deploy.log || { cat deploy.log; fail "stage-deploy did not see /ready"; }
good=$(docker image inspect -f '{{.Id}}' churn:latest)
printf 'USER root\nRUN rm /usr/local/bin/churn-serve\nUSER churn\n' >>"$tree/docker/Dockerfile"
rc=0
"$tree/scripts/stage-deploy" >deploy.log 2>&1 || rc=$?
[ $rc -eq 2 ] || { cat deploy.log; fail "stage-deploy of a broken image exited $rc, not 2"; }
grep -q 'rolling back to the previous image' deploy.log && grep -q 'rolled back: the previous version answers /ready again' deploy.log ||
	{ cat deploy.log; fail "no roll-back"; }
[ "$(docker image inspect -f '{{.Id}}' churn:latest)" = "$good" ] || fail "churn:latest is not the previous image again"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$api/ready")" = 200 ] || fail "/ready not 200 after the roll-back"
unset COMPOSE_FILE
echo "deploy and roll-back: $(( $(date +%s) - t_deploy )) s"

# a clean down
compose down >down.log 2>&1 || { cat down.log; fail "docker-compose down failed"; }
[ -z "$(docker ps -aq)" ] || fail "containers left after down: $(docker ps -a)"
t_end=$(date +%s)
echo "engine $((t_engine - t0)) s, base image $((t_base - t_engine)) s, build $((t_build - t_base)) s," \
	"up to /ready $((t_up - t_build)) s, checks and down $((t_end - t_up)) s"
echo ok
