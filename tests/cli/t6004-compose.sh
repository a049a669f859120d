# docker/compose.yaml is a valid compose file (docker-compose config -q, or
# `docker compose config -q` where the plugin exists) and holds every
# service, port, volume, health check and start condition churn(7)
# promises; docker/Dockerfile has the stages and settings it promises.
# The fleet profile: a replica service (host network, --drain, health
# check, its own state volume) on every port docker/haproxy.cfg sends to,
# and lb (HAProxy with that haproxy.cfg) after them; a replica moved off
# the configuration's ports is caught.
. "$CHURN_TOP/tests/lib.sh"
py=/usr/bin/python3
[ -x $py ] && $py -c 'import yaml' 2>/dev/null || skip "no /usr/bin/python3 with the yaml module (apt-get install python3-yaml)"

# The compose file reads ../.env: validate a copy beside a .env made from
# the template, as a user would have it.
mkdir -p tree/docker
cp "$CHURN_TOP/docker/compose.yaml" tree/docker/compose.yaml
cp "$CHURN_TOP/.env.example" tree/.env
validated=
if docker compose version >/dev/null 2>&1; then
	docker compose -f tree/docker/compose.yaml config -q >err 2>&1 || { cat err; fail "docker compose config rejects docker/compose.yaml"; }
	validated="docker compose config -q; "
fi
if command -v docker-compose >/dev/null 2>&1; then
	docker-compose -f tree/docker/compose.yaml config -q >err 2>&1 || { cat err; fail "docker-compose config rejects docker/compose.yaml"; }
	validated="${validated}docker-compose config -q"
	# and it does judge: an unknown key is refused
	sed 's/^  api:$/  api:\n    unknownkey: 1/' "$CHURN_TOP/docker/compose.yaml" >tree/docker/compose.yaml
	docker-compose -f tree/docker/compose.yaml config -q >err 2>&1 && fail "docker-compose accepted an unknown key"
	grep -q unknownkey err || { cat err; fail "docker-compose did not name the unknown key"; }
fi
[ -n "$validated" ] || echo "compose validation: neither docker compose nor docker-compose is installed; YAML checks only"
[ -n "$validated" ] && echo "compose validation: $validated"

$py - "$CHURN_TOP/docker/compose.yaml" "$CHURN_TOP/docker/Dockerfile" <<'PY' || exit 1
import re, sys, yaml
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

doc = yaml.safe_load(open(sys.argv[1]))
svc = doc.get("services", {})
want = {  # service: (published ports, named volume, has health check)
    "postgres": (["5432"], "pgdata", True),
    "minio": (["9000", "9001"], "minio-data", True),
    "minio-init": ([], None, False),
    "init": ([], "train-data", False),
    "api": (["8000"], "api-state", True),
    "jenkins": (["8080"], "jenkins-home", True),
    "replica-1": ([], "replica-1-state", True),
    "replica-2": ([], "replica-2-state", True),
    "replica-3": ([], "replica-3-state", True),
    "lb": ([], None, False),
}
check(set(svc) == set(want), "services are %s, not %s" % (sorted(svc), sorted(want)))
top_volumes = set((doc.get("volumes") or {}).keys())
for name, (ports, volume, health) in want.items():
    s = svc.get(name) or {}
    published = [str(p).split(":")[0] for p in s.get("ports", [])]
    for p in ports:
        check(p in published, "%s: port %s not published" % (name, p))
    if volume:
        vols = [str(v).split(":")[0] for v in s.get("volumes", [])]
        check(volume in vols, "%s: no named volume %s" % (name, volume))
        check(volume in top_volumes, "volume %s not declared at the top level" % volume)
    if health:
        test = (s.get("healthcheck") or {}).get("test")
        check(bool(test), "%s: no health check" % name)
check(svc.get("postgres", {}).get("image", "").startswith("postgres:"), "postgres: not a postgres image")
check(svc.get("minio", {}).get("image", "").startswith("minio/minio"), "minio: not a minio/minio image")
check(svc.get("minio-init", {}).get("image", "").startswith("minio/mc"), "minio-init: not a minio/mc image")
check("mc mb" in " ".join(svc.get("minio-init", {}).get("entrypoint", [])), "minio-init does not make the bucket")
check("churn-serve" in " ".join(svc.get("api", {}).get("entrypoint", [])), "api does not run churn-serve")
check("churn-first-model" in " ".join(svc.get("init", {}).get("entrypoint", [])), "init does not publish a first model")
check(svc.get("init", {}).get("restart") == "no", "init is not a one-shot service")
check("/health" in " ".join(svc.get("api", {}).get("healthcheck", {}).get("test", [])), "api health check is not /health")
for name in ("init", "api", "jenkins"):
    b = svc.get(name, {}).get("build", {})
    check(b.get("dockerfile") == "docker/Dockerfile" and b.get("context") == "..",
          "%s: not built from docker/Dockerfile" % name)
for name in ("init", "api"):
    check(svc.get(name, {}).get("build", {}).get("target") == "runtime", "%s: not the runtime stage" % name)
check(svc.get("jenkins", {}).get("build", {}).get("target") == "jenkins", "jenkins: not the jenkins stage")
for name in ("postgres", "minio", "minio-init", "init", "api", "replica-1"):
    check(svc.get(name, {}).get("env_file") in ("../.env", ["../.env"]), "%s: configuration not from ../.env" % name)
deps = {
    "minio-init": {"minio": "service_healthy"},
    "init": {"postgres": "service_healthy", "minio": "service_healthy",
             "minio-init": "service_completed_successfully"},
    "api": {"postgres": "service_healthy", "minio": "service_healthy",
            "init": "service_completed_successfully"},
    "jenkins": {"api": "service_healthy"},
}
for name, d in deps.items():
    got = svc.get(name, {}).get("depends_on", {})
    for dep, cond in d.items():
        check(isinstance(got, dict) and (got.get(dep) or {}).get("condition") == cond,
              "%s: does not wait for %s to be %s" % (name, dep, cond))

# Dockerfile: stages, base images, runtime libraries, user, health check
df = open(sys.argv[2]).read()
stages = re.findall(r"^FROM\s+(\S+)\s+AS\s+(\S+)", df, re.M)
check(("debian:12", "build") in stages, "no build stage FROM debian:12")
check(("debian:12-slim", "runtime") in stages, "no runtime stage FROM debian:12-slim")
check(bool(stages) and stages[-1][1] == "runtime", "runtime is not the last (default) stage")
build = df.split(" AS build", 1)[1].split("\nFROM ", 1)[0]
check("scripts/install-deps" in build and "make" in build, "build stage does not run scripts/install-deps and make")
runtime = df.split(" AS runtime", 1)[1]
for lib in ("libcsv3", "libjansson4", "libpq5", "libcurl4", "libssl3", "libmicrohttpd12"):
    check(re.search(r"\b%s\b" % re.escape(lib), runtime), "runtime stage lacks %s" % lib)
check(not re.search(r"-dev\b|build-essential", runtime), "runtime stage installs build packages")
users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
check(users and users[-1] not in ("root", "0"), "runtime stage runs as root")
check(re.search(r"^HEALTHCHECK .*\n?.*CMD .*/health", runtime, re.M), "runtime stage has no HEALTHCHECK on /health")
if errors:
    print("\n".join("FAIL: " + e for e in errors), file=sys.stderr)
    sys.exit(1)
print("compose and Dockerfile checks: ok (%d services, %d stages)" % (len(svc), len(stages)))
PY

# the fleet against the load balancer's configuration
cat >fleet.py <<'PY'
import re, sys, yaml
svc = yaml.safe_load(open(sys.argv[1]))["services"]
servers = re.findall(r"^\s*server\s+\S+\s+(127\.0\.0\.1:\d+)", open(sys.argv[2]).read(), re.M)
errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)
check(len(servers) >= 2, "haproxy.cfg names %d servers" % len(servers))
replicas = {n: s for n, s in svc.items() if n.startswith("replica-")}
listen = {}
for n, s in replicas.items():
    env = s.get("environment") or {}
    listen[env.get("CHURN_LISTEN")] = n
    check(s.get("network_mode") == "host", "%s: not on the host's network" % n)
    check("fleet" in (s.get("profiles") or []), "%s: not in the fleet profile" % n)
    ep = " ".join(s.get("entrypoint") or [])
    check("churn-serve" in ep and "--drain" in ep, "%s: not churn-serve --drain" % n)
    check(env.get("CHURN_S3_ENDPOINT", "").startswith("http://127.0.0.1:"), "%s: S3 not on 127.0.0.1" % n)
    check(env.get("CHURN_DB_HOST") == "127.0.0.1", "%s: PostgreSQL not on 127.0.0.1" % n)
    check((s.get("depends_on") or {}).get("init", {}).get("condition") == "service_completed_successfully",
          "%s: does not wait for init" % n)
for addr in servers:
    check(addr in listen, "no replica listens on %s, where haproxy.cfg sends" % addr)
check(len(set(listen)) == len(replicas), "replicas share a port")
lb = svc.get("lb") or {}
check(lb.get("network_mode") == "host" and "fleet" in (lb.get("profiles") or []), "lb: not a host-network fleet service")
check(any(str(v).startswith("./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg") for v in lb.get("volumes", [])),
      "lb: does not run the repository's haproxy.cfg")
for n in replicas:
    check((lb.get("depends_on") or {}).get(n, {}).get("condition") == "service_healthy", "lb: does not wait for %s" % n)
check("deploy" not in lb and all("deploy" not in s for s in replicas.values()),
      "deploy: docker-compose 1.29 ignores it without --compatibility")
if errors:
    print("\n".join("FAIL: " + e for e in errors), file=sys.stderr)
    sys.exit(1)
print("fleet: %d replicas on haproxy.cfg's %d servers, lb after them" % (len(replicas), len(servers)))
PY
$py fleet.py "$CHURN_TOP/docker/compose.yaml" "$CHURN_TOP/docker/haproxy.cfg" || exit 1
sed 's/CHURN_LISTEN: 127.0.0.1:8003/CHURN_LISTEN: 127.0.0.1:8009/' "$CHURN_TOP/docker/compose.yaml" >moved.yaml
$py fleet.py moved.yaml "$CHURN_TOP/docker/haproxy.cfg" 2>err && fail "a replica off haproxy.cfg's ports passed"
grep -q "no replica listens on 127.0.0.1:8003" err || { cat err; fail "the moved replica was not named"; }
if command -v docker-compose >/dev/null 2>&1; then
	cp "$CHURN_TOP/docker/compose.yaml" tree/docker/compose.yaml
	docker-compose -f tree/docker/compose.yaml --profile fleet config -q >err 2>&1 ||
		{ cat err; fail "docker-compose --profile fleet config rejects docker/compose.yaml"; }
fi
exit 0
