#!/bin/sh
# The Kubernetes manifests in k8s/ are valid against the API schemas (npm
# kubernetes-models, offline: tests/k8s-validate.js), and hang together:
# readiness on /ready, the Service and the PodDisruptionBudget select the
# Deployment's pods, the HorizontalPodAutoscaler scales it, the scoring Job
# is Indexed.  Broken copies (a port as a string, an unknown completion
# mode, containers not a list, a mistyped probe) fail.
. "$CHURN_TOP/tests/lib.sh"
command -v node >/dev/null || skip "node is not installed (scripts/install-deps)"
[ -d "$CHURN_TOP/tests/node_modules/kubernetes-models" ] ||
    skip "no kubernetes-models in tests/node_modules (scripts/install-deps runs npm install there)"
v=$CHURN_TOP/tests/k8s-validate.js
k=$CHURN_TOP/k8s
ls "$k"/*.yaml >/dev/null 2>&1 || fail "no manifests in k8s/"

expect 0 node "$v" "$k"/*.yaml
cat out
for o in Deployment/churn-serve Service/churn-serve HorizontalPodAutoscaler/churn-serve \
    CronJob/churn-pipeline Job/churn-score; do
	grep -q " $o ok\$" out || fail "$o was not validated"
done

# how the objects fit together (what the schemas cannot say)
cat >fit.js <<'JS'
const fs = require('fs');
const YAML = require(process.argv[2] + '/tests/node_modules/yaml');
const objs = [];
for (const f of process.argv.slice(3))
  for (const d of YAML.parseAllDocuments(fs.readFileSync(f, 'utf8'))) if (d.toJS()) objs.push(d.toJS());
const get = (kind, name) => objs.find((o) => o.kind === kind && o.metadata.name === name);
const errs = [];
const check = (ok, msg) => { if (!ok) errs.push(msg); };
const dep = get('Deployment', 'churn-serve');
const pod = dep.spec.template;
const c = pod.spec.containers.find((x) => x.name === 'churn-serve');
const labels = pod.metadata.labels;
const selects = (sel) => sel && Object.entries(sel).every(([k, v]) => labels[k] === v);
check(c && c.readinessProbe && c.readinessProbe.httpGet && c.readinessProbe.httpGet.path === '/ready',
  'the Deployment\'s readiness probe is not GET /ready');
check(c && c.livenessProbe && c.livenessProbe.httpGet.path === '/health', 'the liveness probe is not GET /health');
check(selects(dep.spec.selector.matchLabels), 'the Deployment\'s selector does not match its pods');
const drain = c.args[c.args.indexOf('--drain') + 1];
check(c.args.includes('--drain') && Number(drain) < pod.spec.terminationGracePeriodSeconds,
  'no --drain shorter than the grace period');
const svc = get('Service', 'churn-serve');
check(svc && selects(svc.spec.selector), 'the Service does not select the Deployment\'s pods');
check(svc && svc.spec.ports.every((p) => c.ports.some((q) => q.name === p.targetPort || q.containerPort === p.targetPort)),
  'the Service\'s targetPort is not a port of the container');
const hpa = get('HorizontalPodAutoscaler', 'churn-serve');
check(hpa && hpa.spec.scaleTargetRef.kind === 'Deployment' && hpa.spec.scaleTargetRef.name === 'churn-serve',
  'the HorizontalPodAutoscaler does not scale the Deployment');
check(hpa && c.resources.requests.cpu, 'CPU scaling without a CPU request');
const pdb = get('PodDisruptionBudget', 'churn-serve');
check(pdb && selects(pdb.spec.selector.matchLabels), 'the PodDisruptionBudget does not select the pods');
const job = get('Job', 'churn-score');
check(job && job.spec.completionMode === 'Indexed' && job.spec.completions > 1, 'the scoring Job is not Indexed');
check(job && /JOB_COMPLETION_INDEX/.test(job.spec.template.spec.containers[0].command.join(' ')),
  'the scoring Job does not use its index');
const cron = get('CronJob', 'churn-pipeline');
check(cron && cron.spec.concurrencyPolicy === 'Forbid', 'the pipeline CronJob may run twice at once');
errs.forEach((e) => console.log(e));
process.exit(errs.length ? 1 : 0);
JS
node fit.js "$CHURN_TOP" "$k"/*.yaml || fail "the manifests do not fit together"

# broken copies fail, naming the object and the field
sed 's/containerPort: 8000/containerPort: "8000"/' "$k/serve.yaml" >port.yaml
expect 1 node "$v" port.yaml
grep -q 'Deployment/churn-serve: /spec/template/spec/containers/0/ports/0/containerPort must be integer' out ||
    { cat out >&2; fail "a string port was not refused"; }
sed 's/completionMode: Indexed/completionMode: Sharded/' "$k/score-indexed-job.yaml" >mode.yaml
expect 1 node "$v" mode.yaml
grep -q 'Job/churn-score: /spec/completionMode' out || { cat out >&2; fail "an unknown completion mode was not refused"; }
sed 's/^      containers:$/      containers: churn-serve/; /^        - name: churn-serve$/,/^          volumeMounts:$/d; /^            - name: state$/,/^              mountPath:/d' \
    "$k/serve.yaml" >list.yaml
expect 1 node "$v" list.yaml
grep -q 'Deployment/churn-serve: /spec/template/spec/containers must be array' out ||
    { cat out >&2; fail "containers that are not a list were not refused"; }
printf 'apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: x\n' >kind.yaml
expect 1 node "$v" kind.yaml
grep -q "unknown apiVersion/kind 'apps/v1' 'Deploymnet'" out || { cat out >&2; fail "an unknown kind was not refused"; }
printf 'a: [\n' >yaml.yaml
expect 1 node "$v" yaml.yaml
# a mistyped field passes the schemas (they allow unknown fields) but not the fit
sed 's/readinessProbe:/readynessProbe:/' "$k/serve.yaml" >probe.yaml
node fit.js "$CHURN_TOP" probe.yaml "$k/score-indexed-job.yaml" "$k/pipeline-cronjob.yaml" >fit.out &&
    fail "a Deployment without a readiness probe fits"
grep -q 'readiness probe' fit.out || fail "the missing readiness probe was not named: $(cat fit.out)"
echo ok
