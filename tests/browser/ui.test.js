// ui.test.js - drives churn-serve's web UI in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core; no browser is downloaded).
//
//   CHURN_UI_URL=http://127.0.0.1:PORT/ CHURN_ADMIN_TOKEN=... \
//   CHURN_UI_SHOTS=DIR [CHURN_UI_NAME=ui] node tests/browser/ui.test.js
//
// Checks: the four panels render with the server's own data (compared with
// its JSON routes; the model panel's live ROC-AUC chart with /performance), the prediction form gives the same probability as the
// API, a wrong token is refused, a drift check run from the button adds a
// report and its bars, every input has a label, no request leaves
// 127.0.0.1, no console errors, everything transferred weighs < 300 KB,
// no horizontal scrolling at phone width.  Screenshots (1280 and 390 px
// wide) are saved in CHURN_UI_SHOTS and their paths printed.
'use strict';
const path = require('path');
let chromium;
try {
  ({ chromium } = require(path.resolve(__dirname, '../node_modules/playwright-core')));
} catch (e) {
  console.log('skipped: playwright-core is not installed in tests/node_modules (npm install in tests/)');
  process.exit(77);
}

const BASE = process.env.CHURN_UI_URL;
const TOKEN = process.env.CHURN_ADMIN_TOKEN;
const SHOTS = process.env.CHURN_UI_SHOTS || process.cwd();
const NAME = process.env.CHURN_UI_NAME || 'ui';
const BUDGET = 300 * 1024;
if (!BASE || !TOKEN) {
  console.error('ui.test.js: set CHURN_UI_URL and CHURN_ADMIN_TOKEN');
  process.exit(2);
}
const TIMEOUT = 15000;

function check(cond, what) {
  if (!cond) throw new Error(what);
  console.log('ok - ' + what);
}
async function getJSON(p, opts) {
  const r = await fetch(new URL(p, BASE), opts);
  const body = await r.json();
  if (!r.ok) throw new Error(p + ': ' + r.status + ' ' + JSON.stringify(body));
  return body;
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await ctx.newPage();
    const errors = [], foreign = [];
    let expect401 = false, bytes = 0, assets = 0;
    const pending = [];
    page.on('pageerror', (e) => errors.push('pageerror: ' + e));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      // the one refused request the test provokes on purpose
      if (expect401 && /status of 401/.test(m.text())) return;
      errors.push('console: ' + m.text());
    });
    page.on('request', (req) => {
      const u = new URL(req.url());
      if (u.protocol === 'data:' || u.protocol === 'blob:') return;
      if (u.hostname !== '127.0.0.1') foreign.push(req.url());
    });
    page.on('requestfailed', (req) => {
      if (!req.url().startsWith('data:')) errors.push('request failed: ' + req.url() + ' ' +
        (req.failure() && req.failure().errorText));
    });
    page.on('requestfinished', (req) => pending.push(req.sizes().then((s) => {
      const n = s.responseBodySize + s.responseHeadersSize;
      bytes += n;
      if (['document', 'script', 'stylesheet', 'image', 'font'].includes(req.resourceType()))
        assets += n;
    })));

    // --- load: panel 1, health and model
    await page.goto(BASE, { waitUntil: 'load', timeout: TIMEOUT });
    await page.waitForSelector('body[data-ready]', { timeout: TIMEOUT });
    const health = await getJSON('/health');
    const schema = await getJSON('/predict/schema');
    const model = await getJSON('/model');
    const thr = typeof schema.threshold === 'number' ? schema.threshold
      : typeof model.threshold === 'number' ? model.threshold : 0.5;
    check(health.status === 'ok', 'GET /health says ok');
    check(await page.textContent('#h-status') === 'ok', 'health panel shows the status');
    check(await page.textContent('#h-version') === health.model_version,
      'health panel shows the model version ' + health.model_version);
    check(/^\d+(\.\d+)? \/s$/.test(await page.textContent('#h-rate')), 'health panel shows a request rate');
    check(/\d/.test(await page.textContent('#h-uptime')), 'health panel shows the uptime');
    const facts = Object.fromEntries(await page.$$eval('#model-facts > div', (d) =>
      d.map((x) => [x.querySelector('dt').textContent, x.querySelector('dd').textContent])));
    check(facts.Version === health.model_version && facts['ROC-AUC'] === model.metrics.roc_auc.toFixed(3),
      'model facts show the version and its ROC-AUC (' + facts['ROC-AUC'] + ')');
    check(await page.$$eval('#model-importance li', (l) => l.length) > 0, 'feature importances listed');

    // --- panel 2: the form follows the schema
    const nf = schema.features.length;
    check(await page.$$eval('#predict-fields .field', (f) => f.length) === nf,
      'prediction form has one field per schema feature (' + nf + ')');
    const cat = schema.features.findIndex((f) => f.type === 'categorical');
    const numi = schema.features.findIndex((f) => f.type === 'numeric');
    check(cat >= 0 && await page.$$eval('#f-' + cat + ' option', (o) => o.length) ===
      schema.features[cat].categories.length + 1, 'categorical select lists the categories (+ missing)');
    const med = numi >= 0 ? schema.features[numi].median : null;
    check(typeof med === 'number' && (await page.inputValue('#f-' + numi)) !== '' &&
      Number(await page.inputValue('#f-' + numi)) === +med.toFixed(4),
      'numeric input is prefilled with the reference value ' + med);
    const unlabelled = await page.$$eval('input, select, textarea', (els) =>
      els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.id));
    check(unlabelled.length === 0, 'every input has a label' + (unlabelled.length ? ': ' + unlabelled : ''));

    // fill: last category of the first categorical feature, the maximum of the first numeric one
    const cf = schema.features[cat], nfeat = schema.features[numi];
    const catVal = cf.categories[cf.categories.length - 1];
    await page.selectOption('#f-' + cat, catVal);
    await page.fill('#f-' + numi, String(nfeat.max));
    // submit with the keyboard
    await page.focus('#predict-go');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#churn-prob', { timeout: TIMEOUT });
    const shown = Number(await page.textContent('#churn-prob'));
    const row = {};
    for (const f of schema.features)
      row[f.name] = f.type === 'categorical' ? (f.mode != null ? f.mode : f.categories[0]) :
        (typeof f.median === 'number' ? +f.median.toFixed(4) : null);
    row[cf.name] = catVal;
    row[nfeat.name] = nfeat.max;
    const api = await getJSON('/predict?explain=1', { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(row) });
    check(shown >= 0 && shown <= 1 && Math.abs(shown - api.churn_probability) < 0.0006,
      'form gives the API\'s probability (' + shown + ' vs ' + api.churn_probability + ')');
    const gw = await page.$eval('#gauge-fill', (e) => e.style.width);
    check(Math.abs(parseFloat(gw) - api.churn_probability * 100) < 0.1, 'gauge width ' + gw);
    check(await page.$eval('#gauge-mark', (e) => e.style.left) === (thr * 100) + '%',
      'threshold ' + thr + ' marked on the gauge');
    const nexp = await page.$$eval('#explain li', (l) => l.length);
    const nz = (api.explanation || []).filter((e) => typeof e.delta === 'number' && e.delta !== 0).length;
    check(Array.isArray(api.explanation) && api.explanation.length === nf,
      'the API explains all ' + nf + ' features');
    check(nexp === Math.max(1, Math.min(8, nz)), 'explanation lists ' + Math.min(8, nz) + ' features');

    // --- panel 4: model history
    const models = await getJSON('/models');
    const nv = (models.versions || []).length;
    check(nv > 0 && await page.$$eval('#models-table tbody tr[data-version]', (r) => r.length) === nv,
      'model versions table has the ' + nv + ' registered versions');
    check(await page.$('#models-chart .uplot canvas') !== null, 'ROC-AUC chart drawn');
    check(await page.$$eval('#models-aliases dt', (d) => d.length) ===
      Math.max(1, Object.keys(models.aliases || {}).length), 'aliases listed');
    const nh = (models.history || []).length;
    check(await page.$$eval('#models-history tbody tr', (r) => r.length) === Math.max(1, nh),
      'alias history has ' + nh + ' entries');
    check(await page.$('#models-table tr.serving') !== null, 'serving version marked');

    // --- panel 4b: live ROC-AUC per version by week, beside the holdout AUC
    const perf = await getJSON('/performance?by=week');
    const pvs = perf.versions || [];
    check(pvs.length > 0, 'GET /performance judges ' + pvs.length + ' version(s) on outcomes');
    check(await page.$('#perf-chart .uplot canvas') !== null, 'live ROC-AUC chart drawn');
    const nseries = pvs.reduce((n, v) => n + 1 + (typeof v.holdout_roc_auc === 'number' ? 1 : 0), 0);
    check(await page.$$eval('#perf-chart .u-legend tr.u-series', (r) => r.length) === nseries + 1,
      'live chart has a live and a holdout series per version (' + nseries + ')');
    const shownAuc = await page.$$eval('#perf-list li[data-version]', (l) =>
      l.map((x) => [x.dataset.version, x.querySelector('.perf-auc').textContent]));
    check(JSON.stringify(shownAuc) === JSON.stringify(pvs.map((v) => [v.model_version,
      typeof v.all.roc_auc === 'number' ? v.all.roc_auc.toFixed(3) : '–'])),
      'live ROC-AUC listed per version: ' + JSON.stringify(shownAuc));

    // --- panel 3: drift; a wrong token first, then the right one
    const before = (await getJSON('/drift/reports')).reports.length;
    expect401 = true;
    await page.fill('#drift-token', TOKEN + '-wrong');
    await page.click('#drift-run');
    await page.waitForFunction(() => /refused|failed/.test(document.getElementById('drift-msg').textContent),
      null, { timeout: TIMEOUT });
    check(/refused/.test(await page.textContent('#drift-msg')), 'a wrong admin token is refused');
    expect401 = false;
    await page.fill('#drift-token', TOKEN);
    await page.click('#drift-run');
    await page.waitForFunction(() => /check done|failed|refused/.test(
      document.getElementById('drift-msg').textContent), null, { timeout: 60000 });
    const msg = await page.textContent('#drift-msg');
    check(/check done/.test(msg), 'drift check from the button: ' + msg);
    const reps = (await getJSON('/drift/reports')).reports;
    check(reps.length === before + 1, 'one drift report recorded (' + before + ' -> ' + reps.length + ')');
    const last = reps[reps.length - 1];
    const nbars = last.features.length + (last.prediction ? 1 : 0);
    check(await page.$$eval('#drift-bars li', (l) => l.length) === nbars,
      'drift bars for ' + nbars + ' features of the latest report');
    const statuses = await page.$$eval('#drift-bars li', (l) => l.map((x) => x.dataset.status).sort());
    const want = last.features.map((f) => f.status).concat(last.prediction ? [last.prediction.status] : []).sort();
    check(JSON.stringify(statuses) === JSON.stringify(want), 'bar statuses match the report');
    check((await page.textContent('#drift-verdict')) === (last.drift ? 'drift' : 'no drift'),
      'drift verdict shown: ' + (last.drift ? 'drift' : 'no drift'));
    check(await page.$('#drift-chart .uplot canvas') !== null, 'drift-over-time chart drawn');
    // choose another feature's distribution
    const pick = last.features[last.features.length - 1];
    await page.selectOption('#drift-feature', pick.name);
    check(await page.$$eval('#drift-dist tbody tr', (r) => r.length) === pick.bins.length,
      'distribution of ' + pick.name + ' shows its ' + pick.bins.length + ' bins');
    check(await page.evaluate(() => sessionStorage.getItem('churn.adminToken')) === TOKEN,
      'token kept in sessionStorage');

    // --- the whole page, laptop then phone width
    const wide = path.join(SHOTS, NAME + '-1280.png');
    await page.screenshot({ path: wide, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);   // let the charts follow the resize
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
    check(overflow <= 390, 'no horizontal scrolling at 390 px (scrollWidth ' + overflow + ')');
    const narrow = path.join(SHOTS, NAME + '-390.png');
    await page.screenshot({ path: narrow, fullPage: true });

    await Promise.all(pending);
    check(foreign.length === 0, 'no request left 127.0.0.1' + (foreign.length ? ': ' + foreign.join(' ') : ''));
    check(errors.length === 0, 'no console errors' + (errors.length ? ':\n  ' + errors.join('\n  ') : ''));
    console.log('page assets ' + assets + ' bytes, everything transferred ' + bytes + ' bytes');
    check(assets > 0 && bytes < BUDGET, 'transferred ' + (bytes / 1024).toFixed(1) + ' KB < 300 KB');
    console.log('screenshot: ' + wide);
    console.log('screenshot: ' + narrow);
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error('FAIL: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
