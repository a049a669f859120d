// mock-serve.js - a stand-in for churn-serve for fast UI-only work and tests:
// serves cmd/churn-serve/ui/ at / and /static/<name>, and canned JSON in the
// shapes of CONTRACTS.md ("Serve routes", "Drift report").  Loopback only.
//
//   node tests/browser/mock-serve.js [port]     prints "listening PORT"
//   CHURN_ADMIN_TOKEN (default "mock-token") guards POST /drift/check.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const UI = path.resolve(__dirname, '../../cmd/churn-serve/ui');
const TOKEN = process.env.CHURN_ADMIN_TOKEN || 'mock-token';
const started = Date.now();
let requests = 0;

const CATS = {
  gender: ['Female', 'Male'], SeniorCitizen: ['0', '1'], Partner: ['No', 'Yes'],
  Dependents: ['No', 'Yes'], PhoneService: ['No', 'Yes'],
  MultipleLines: ['No', 'No phone service', 'Yes'],
  InternetService: ['DSL', 'Fiber optic', 'No'],
  OnlineSecurity: ['No', 'No internet service', 'Yes'],
  TechSupport: ['No', 'No internet service', 'Yes'],
  Contract: ['Month-to-month', 'One year', 'Two year'], PaperlessBilling: ['No', 'Yes'],
  PaymentMethod: ['Bank transfer (automatic)', 'Credit card (automatic)',
    'Electronic check', 'Mailed check'],
};
const NUMS = { tenure: [0, 72, 29], MonthlyCharges: [18.25, 118.75, 70.35],
  TotalCharges: [18.8, 8684.8, 1397.47] };
const features = [];
for (const n of ['gender', 'SeniorCitizen', 'Partner', 'Dependents', 'tenure', 'PhoneService',
  'MultipleLines', 'InternetService', 'OnlineSecurity', 'TechSupport', 'Contract',
  'PaperlessBilling', 'PaymentMethod', 'MonthlyCharges', 'TotalCharges']) {
  if (CATS[n]) features.push({ name: n, type: 'categorical', categories: CATS[n], mode: CATS[n][0] });
  else features.push({ name: n, type: 'numeric', min: NUMS[n][0], max: NUMS[n][1], median: NUMS[n][2] });
}
const VERSION = 'v20261120-101500';
const schema = { model_version: VERSION, target: 'Churn', threshold: 0.5, features };

// a made-up but smooth scoring function, so explanations are real deltas
function score(row) {
  let z = -1.2;
  const t = Number(row.tenure ?? 29);
  z += (30 - t) / 25;
  z += { 'Month-to-month': 0.9, 'One year': -0.4, 'Two year': -1.3 }[row.Contract] ?? 0;
  z += row.InternetService === 'Fiber optic' ? 0.6 : 0;
  z += row.PaymentMethod === 'Electronic check' ? 0.4 : 0;
  z += (Number(row.MonthlyCharges ?? 70) - 70) / 60;
  z += row.TechSupport === 'Yes' ? -0.5 : 0;
  return 1 / (1 + Math.exp(-z));
}

function report(i, when) {
  const drifting = i >= 2;
  const fs_ = features.map((f, k) => {
    const v = Math.abs(Math.sin(k * 7 + i)) * (drifting && k % 4 === 0 ? 0.35 : 0.08);
    const status = v >= 0.2 ? 'drift' : v >= 0.1 ? 'warn' : 'ok';
    const base = { name: f.name, type: f.type, metric: f.type === 'numeric' ? 'psi' : 'l1',
      value: +v.toFixed(4), warn: 0.1, threshold: 0.2, status };
    if (f.type === 'numeric') {
      base.edges = [f.min + (f.max - f.min) / 4, f.min + (f.max - f.min) / 2,
        f.min + 3 * (f.max - f.min) / 4];
      const labels = ['(-inf, ' + base.edges[0] + ']', '(' + base.edges[0] + ', ' + base.edges[1] + ']',
        '(' + base.edges[1] + ', ' + base.edges[2] + ']', '(' + base.edges[2] + ', +inf)', 'missing'];
      const ref = [0.3, 0.25, 0.25, 0.2, 0];
      const cur = drifting ? [0.45, 0.25, 0.2, 0.1, 0] : [0.28, 0.27, 0.25, 0.2, 0];
      base.bins = labels.map((label, j) => ({ label, ref: ref[j], cur: cur[j],
        ref_count: ref[j] * 7043, cur_count: cur[j] * 500 }));
    } else {
      const n = f.categories.length;
      base.bins = f.categories.map((label, j) => {
        const ref = 1 / n, cur = drifting && j === 0 ? Math.min(1, 1.5 / n) : 1 / n;
        return { label, ref, cur, ref_count: Math.round(ref * 7043), cur_count: Math.round(cur * 500) };
      }).concat([{ label: 'missing', ref: 0, cur: 0, ref_count: 0, cur_count: 0 }]);
      base.new_categories = drifting && f.name === 'PaymentMethod' ? ['Crypto'] : [];
    }
    return base;
  });
  const drifted = fs_.filter((f) => f.status === 'drift').length;
  const pv = drifting ? 0.24 : 0.05;
  return { model_version: VERSION, time: new Date(when).toISOString(),
    rows: { reference: 7043, current: 500 }, drift: drifted / fs_.length >= 0.2,
    rule: 'drift when at least 20% of the features drift (psi/l1 >= threshold)',
    drift_share: +(drifted / fs_.length).toFixed(4), drifted, checked: fs_.length,
    features: fs_,
    prediction: { name: 'churn_probability', type: 'numeric', metric: 'psi', value: pv,
      warn: 0.1, threshold: 0.2, status: pv >= 0.2 ? 'drift' : 'ok', edges: [0.25, 0.5, 0.75],
      bins: [{ label: '(-inf, 0.25]', ref: 0.5, cur: drifting ? 0.3 : 0.48 },
        { label: '(0.25, 0.5]', ref: 0.25, cur: 0.3 }, { label: '(0.5, 0.75]', ref: 0.15, cur: 0.22 },
        { label: '(0.75, +inf)', ref: 0.1, cur: drifting ? 0.18 : 0.1 }] },
    warnings: [] };
}
const DAY = 86400e3;
// MOCK_REPORTS=n: start with n recorded reports (default 2)
const reports = [];
for (let i = 0; i < Number(process.env.MOCK_REPORTS ?? 2); i++) reports.push(report(i, Date.now() - (3 - i) * DAY));
let checks = reports.length;

const models = {
  versions: [
    ['v20261001-090000', 0.812, 0.61, 0.58], ['v20261015-090000', 0.829, 0.64, 0.6],
    ['v20261101-090000', 0.821, 0.63, 0.59], [VERSION, 0.843, 0.66, 0.62],
  ].map(([version, roc, pr, f1], i) => ({ version, sha256: 'ab'.repeat(32), size: 180000 + i,
    created: new Date(Date.UTC(+version.slice(1, 5), +version.slice(5, 7) - 1, +version.slice(7, 9),
      +version.slice(10, 12))).toISOString(),
    metrics: { roc_auc: roc, pr_auc: pr, f1, accuracy: 0.8 }, params: { trees: 100 },
    aliases: version === VERSION ? ['champion'] : version === 'v20261101-090000' ? ['challenger'] : [] })),
  aliases: { champion: VERSION, challenger: 'v20261101-090000' },
  history: [
    { alias: 'champion', version: 'v20261001-090000', previous: null, time: '2026-10-01T09:10:00Z', action: 'set' },
    { alias: 'champion', version: 'v20261015-090000', previous: 'v20261001-090000', time: '2026-10-15T09:10:00Z', action: 'set' },
    { alias: 'challenger', version: 'v20261101-090000', previous: null, time: '2026-11-01T09:10:00Z', action: 'set' },
    { alias: 'champion', version: VERSION, previous: 'v20261015-090000', time: '2026-11-20T10:20:00Z', action: 'set' },
  ],
};
const model = { version: VERSION, created: '2026-11-20T10:15:00Z', sha256: 'ab'.repeat(32),
  threshold: 0.5, target: 'Churn',
  features: features.map((f, k) => ({ name: f.name, type: f.type, importance: +(1 / (k + 2)).toFixed(3) })),
  params: { trees: 100, max_depth: 12 }, metrics: { roc_auc: 0.843, pr_auc: 0.66, f1: 0.62, threshold: 0.5 },
  oob: { score: 0.79, roc_auc: 0.835 } };

// GET /performance?by=week: two versions judged on four weeks of outcomes
function perfWeeks(version, holdout, aucs, first) {
  const periods = aucs.map((auc, k) => ({ period: '2026-W' + String(first + k).padStart(2, '0'),
    rows: 120 + 10 * k, positives: 30 + k, roc_auc: auc, pr_auc: auc - 0.2, log_loss: 0.45, brier: 0.15 }));
  return { model_version: version, threshold: 0.5, holdout_roc_auc: holdout,
    all: { rows: periods.reduce((n, p) => n + p.rows, 0), positives: periods.reduce((n, p) => n + p.positives, 0),
      roc_auc: aucs.reduce((a, b) => a + b, 0) / aucs.length },
    periods };
}
const performance = { horizon_days: 90, by: 'week', outcomes: 1200, joined: 1000, unjoined: 200,
  versions: [perfWeeks('v20261101-090000', 0.821, [0.81, 0.8, 0.77, 0.74], 44),
    perfWeeks(VERSION, 0.843, [0.84, 0.83], 47)] };

function send(res, status, obj, type) {
  const body = Buffer.isBuffer(obj) ? obj : Buffer.from(typeof obj === 'string' ? obj : JSON.stringify(obj));
  res.writeHead(status, { 'Content-Type': type || 'application/json', 'Content-Length': body.length,
    'Cache-Control': 'no-store' });
  res.end(body);
}
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css',
  '.txt': 'text/plain' };

const server = http.createServer((req, res) => {
  requests++;
  const u = new URL(req.url, 'http://127.0.0.1');
  let chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    const p = u.pathname;
    if (req.method === 'GET' && (p === '/' || p.startsWith('/static/'))) {
      const name = p === '/' ? 'index.html' : p.slice(8);
      if (name.includes('/') || name.startsWith('.')) return send(res, 404, { error: 'no such file' });
      fs.readFile(path.join(UI, name), (err, data) => {
        if (err) return send(res, 404, { error: 'no such file: ' + name });
        send(res, 200, data, TYPES[path.extname(name)] || 'application/octet-stream');
      });
      return;
    }
    const route = req.method + ' ' + p;
    switch (route) {
    case 'GET /health':
      return send(res, 200, { status: 'ok', model_version: VERSION, uptime_s: (Date.now() - started) / 1000 + 3725,
        requests, request_rate: 2.35, last_reload: new Date(started).toISOString(), reloads: 1 });
    case 'GET /model': return send(res, 200, model);
    case 'GET /predict/schema': return send(res, 200, schema);
    case 'GET /models': return send(res, 200, models);
    case 'GET /drift/reports': return send(res, 200, { reports });
    case 'GET /performance': return send(res, 200, performance);
    case 'POST /predict': {
      let row;
      try { row = JSON.parse(body); } catch (e) { return send(res, 400, { error: 'body is not JSON' }); }
      for (const f of features)
        if (!(f.name in row)) return send(res, 422, { error: "field '" + f.name + "' is missing" });
      const pr = score(row);
      const out = { churn_probability: +pr.toFixed(4), churn: pr >= 0.5, model_version: VERSION };
      if (u.searchParams.get('explain') === '1') {
        out.explanation = features.map((f) => {
          const ref = f.type === 'numeric' ? f.median : f.mode;
          return { feature: f.name, value: row[f.name], reference: ref,
            delta: +(pr - score(Object.assign({}, row, { [f.name]: ref }))).toFixed(4) };
        }).sort((a, b) => Math.abs(b.delta) - Math.abs(a.delta));
      }
      return send(res, 200, out);
    }
    case 'POST /drift/check':
      if (req.headers.authorization !== 'Bearer ' + TOKEN) return send(res, 401, { error: 'bad or missing token' });
      reports.push(report(checks++, Date.now()));
      return send(res, 200, reports[reports.length - 1]);
    default:
      return send(res, 404, { error: 'no route ' + route });
    }
  });
});
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log('listening ' + server.address().port);
});
