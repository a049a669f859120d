/* churn-serve web UI: four panels fed by the server's JSON routes only
 * (GET /health /model /predict/schema /models /drift/reports /performance,
 *  POST /predict?explain=1 and /drift/check).  No other host is contacted.
 * Charts: uPlot (vendored, see index.html); bars are plain styled elements. */
'use strict';
(function () {
  const HEALTH_EVERY = 5000, SLOW_EVERY = 30000;
  const TOKEN_KEY = 'churn.adminToken';
  const $ = (id) => document.getElementById(id);
  const state = { schema: null, version: null, reports: [], models: null, charts: {} };

  /* ---------- helpers ---------- */
  function el(tag, attrs, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k === 'style') n.style.cssText = v;   // CSSOM: allowed under a strict CSP
      else n.setAttribute(k, v === true ? '' : v);
    }
    for (const c of kids.flat()) {
      if (c == null || c === false) continue;
      n.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return n;
  }
  function clear(n) { while (n.firstChild) n.removeChild(n.firstChild); return n; }
  function setText(id, t) { $(id).textContent = t; }

  async function api(path, opts) {
    const res = await fetch(path, Object.assign({ cache: 'no-store' }, opts));
    let body = null;
    const text = await res.text();
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!res.ok) {
      const msg = body && body.error ? body.error : (res.status + ' ' + res.statusText);
      const err = new Error(path + ': ' + msg);
      err.status = res.status;
      throw err;
    }
    if (body === null) throw new Error(path + ': answer is not JSON');
    return body;
  }

  const isNum = (x) => typeof x === 'number' && isFinite(x);
  function num(x, d) { return isNum(x) ? x.toFixed(d == null ? 3 : d) : '–'; }
  function pct(x, d) { return isNum(x) ? (x * 100).toFixed(d == null ? 1 : d) + '%' : '–'; }

  /* seconds since the epoch from an ISO string, a number (s or ms) or a
   * version name vYYYYMMDD-HHMMSS; NaN when none of these */
  function toSec(t, version) {
    if (isNum(t)) return t > 1e12 ? t / 1000 : t;
    if (typeof t === 'string' && t) {
      const ms = Date.parse(t);
      if (!isNaN(ms)) return ms / 1000;
    }
    const m = /^v(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})/.exec(version || '');
    if (m) return Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000;
    return NaN;
  }
  function when(t, version) {
    const s = toSec(t, version);
    if (isNaN(s)) return '–';
    const d = new Date(s * 1000), p2 = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p2(d.getMonth() + 1) + '-' + p2(d.getDate()) + ' ' +
      p2(d.getHours()) + ':' + p2(d.getMinutes());
  }
  function ago(t) {
    const s = toSec(t);
    if (isNaN(s)) return '';
    return ' (' + duration(Math.max(0, Date.now() / 1000 - s)) + ' ago)';
  }
  function duration(s) {
    if (!isNum(s)) return '–';
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600),
      m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d) return d + 'd ' + h + 'h';
    if (h) return h + 'h ' + m + 'm';
    if (m) return m + 'm ' + sec + 's';
    return sec + 's';
  }
  function showValue(v) {
    if (v === null || v === undefined || v === '') return 'missing';
    return isNum(v) ? String(+v.toFixed(4)) : String(v);
  }
  function panelError(panel, err) {
    const sec = $(panel);
    let p = sec.querySelector('.panel-error');
    if (!err) { if (p) p.remove(); return; }
    if (!p) {
      p = el('p', { class: 'error panel-error', role: 'alert' });
      sec.querySelector('h2').after(p);
    }
    p.textContent = String(err.message || err);
  }

  /* ---------- charts (uPlot) ---------- */
  const PALETTE = ['#2456c7', '#c4302b', '#2e8540', '#8a4fbf', '#c98a00', '#5b6475'];
  function lineChart(id, x, series, yLabel) {
    const box = $(id);
    if (state.charts[id]) { state.charts[id].destroy(); delete state.charts[id]; }
    clear(box);
    if (!x.length) {
      box.append(el('p', { class: 'empty', text: 'nothing recorded yet' }));
      return;
    }
    if (typeof window.uPlot !== 'function') {
      box.append(el('p', { class: 'empty', text: 'chart library failed to load' }));
      return;
    }
    const fmt = (u, v) => (v == null ? '–' : v.toFixed(3));
    const opts = {
      width: Math.max(240, box.clientWidth), height: 220,
      // all points at one time: an hour either side (uPlot would add
      // 86400/ms, years when x is in seconds)
      scales: { x: { time: true, range: (u, min, max) => (x[0] === x[x.length - 1]
        ? [x[0] - 3600, x[0] + 3600] : [min, max]) } },
      series: [{ label: 'time' }].concat(series.map((s, i) => ({
        label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: 2,
        dash: s.dash, value: fmt, spanGaps: true,
        points: { show: x.length < 40 && !s.dash, size: 6 },
      }))),
      axes: [{}, { label: yLabel, size: 50, values: (u, vals) => vals.map((v) => +v.toFixed(3)) }],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    state.charts[id] = new window.uPlot(opts, [x].concat(series.map((s) => s.values)), box);
  }
  if (typeof ResizeObserver === 'function') {
    const ro = new ResizeObserver(() => {
      for (const [id, u] of Object.entries(state.charts)) {
        const w = Math.max(240, $(id).clientWidth);
        if (Math.abs(w - u.width) > 4) u.setSize({ width: w, height: 220 });
      }
    });
    ro.observe(document.body);
  }

  /* ---------- 1. health and model ---------- */
  async function loadHealth() {
    let h;
    try {
      h = await api('/health');
    } catch (e) {
      setText('h-status', 'unreachable');
      $('h-status').className = 'bad';
      setText('top-status', 'server unreachable: ' + e.message);
      return;
    }
    const st = $('h-status');
    clear(st).append(el('span', { class: 'badge ' + (h.status === 'ok' ? 'ok' : 'bad'),
      text: h.status || '?' }));
    setText('h-version', h.model_version || 'no model loaded');
    setText('h-uptime', duration(h.uptime_s));
    setText('h-requests', isNum(h.requests) ? h.requests.toLocaleString() : '–');
    setText('h-rate', isNum(h.request_rate) ? h.request_rate.toFixed(2) + ' /s' : '–');
    setText('h-reload', h.last_reload ? when(h.last_reload) + ago(h.last_reload) +
      (isNum(h.reloads) ? ' · ' + h.reloads + ' reload' + (h.reloads === 1 ? '' : 's') : '')
      : 'never');
    setText('health-updated', 'updated ' + new Date().toLocaleTimeString());
    setText('top-status', (h.status || '?') + ' · model ' + (h.model_version || 'none') +
      ' · up ' + duration(h.uptime_s));
    if (!h.model_version && !state.version) {
      const box = $('predict-fields');
      if (!box.firstChild) box.append(el('p', { class: 'muted',
        text: 'no model is loaded: nothing to score with yet' }));
    }
    if (h.model_version && h.model_version !== state.version) {
      state.version = h.model_version;
      await Promise.all([loadModel(), loadSchema()]);
      markServing();
    }
  }

  async function loadModel() {
    let m;
    try { m = await api('/model'); } catch (e) { panelError('health', e); return; }
    panelError('health', null);
    const mt = m.metrics || {}, oob = m.oob || {}, params = m.params || {};
    state.threshold = isNum(m.threshold) ? m.threshold : mt.threshold;
    const facts = [
      ['Version', m.version], ['Created', when(m.created, m.version)],
      ['Target', m.target],
      ['SHA-256', m.sha256 ? m.sha256.slice(0, 12) + '…' : '–'],
      ['Threshold', num(isNum(m.threshold) ? m.threshold : mt.threshold, 2)],
      ['ROC-AUC', num(mt.roc_auc)], ['PR-AUC', num(mt.pr_auc)], ['F1', num(mt.f1)],
      ['OOB ROC-AUC', num(oob.roc_auc)],
      ['Trees', m.trees != null ? String(m.trees) : params.trees != null ? String(params.trees) : '–'],
      ['Features', Array.isArray(m.features) ? String(m.features.length) : '–'],
    ];
    const dl = clear($('model-facts'));
    for (const [k, v] of facts) dl.append(el('div', null, el('dt', { text: k }), el('dd', { text: v || '–' })));
    if (m.sha256) dl.children[3].querySelector('dd').title = m.sha256;
    let imp = [];
    if (Array.isArray(m.features)) imp = m.features.filter((f) => isNum(f.importance));
    else if (m.importances && typeof m.importances === 'object')
      imp = Object.entries(m.importances).map(([name, importance]) => ({ name, importance }));
    imp.sort((a, b) => b.importance - a.importance);
    const ol = clear($('model-importance'));
    for (const f of imp.slice(0, 8))
      ol.append(el('li', null, f.name + ' ', el('span', { class: 'num', text: num(f.importance) })));
    if (!imp.length) ol.append(el('li', { class: 'muted', text: 'no importances in the model' }));
  }

  /* ---------- 2. manual prediction ---------- */
  async function loadSchema() {
    let s;
    try { s = await api('/predict/schema'); } catch (e) { panelError('predict', e); return; }
    panelError('predict', null);
    state.schema = s;
    const box = clear($('predict-fields'));
    (s.features || []).forEach((f, i) => {
      const id = 'f-' + i;
      const field = el('div', { class: 'field' }, el('label', { for: id, text: f.name }));
      if (f.type === 'categorical') {
        const sel = el('select', { id, name: f.name, 'data-type': 'categorical' });
        for (const c of f.categories || [])
          sel.append(el('option', { value: c, text: c }));
        sel.append(el('option', { value: '', text: '(missing)' }));
        field.append(sel);
      } else {
        const hint = 'range ' + showValue(f.min) + ' – ' + showValue(f.max);
        field.append(el('input', { id, name: f.name, type: 'number', step: 'any',
          inputmode: 'decimal', placeholder: hint, 'data-type': 'numeric',
          'aria-describedby': id + '-hint' }),
        el('span', { class: 'hint', id: id + '-hint', text: hint }));
      }
      box.append(field);
    });
    resetForm();
    $('predict-result').hidden = true;
  }

  function resetForm() {
    if (!state.schema) return;
    (state.schema.features || []).forEach((f, i) => {
      const c = $('f-' + i);
      if (!c) return;
      if (f.type === 'categorical') c.value = f.mode != null ? f.mode : (f.categories || [''])[0];
      else c.value = isNum(f.median) ? String(+f.median.toFixed(4)) : '';
    });
  }

  function formValues() {
    const row = {};
    (state.schema.features || []).forEach((f, i) => {
      const c = $('f-' + i);
      if (f.type === 'categorical') row[f.name] = c.value === '' ? null : c.value;
      else row[f.name] = c.value.trim() === '' ? null : Number(c.value);
    });
    return row;
  }

  async function predict(ev) {
    ev.preventDefault();
    if (!state.schema) return;
    const err = $('predict-error');
    err.hidden = true;
    const row = formValues();
    for (const [k, v] of Object.entries(row)) {
      if (typeof v === 'number' && !isFinite(v)) {
        err.textContent = k + ': not a number';
        err.hidden = false;
        return;
      }
    }
    const btn = $('predict-go');
    btn.disabled = true;
    try {
      const r = await api('/predict?explain=1', { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(row) });
      showPrediction(r);
    } catch (e) {
      err.textContent = 'prediction failed: ' + e.message;
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  }

  // the decision threshold: the schema's, else the loaded model's, else 0.5
  function threshold() {
    if (state.schema && isNum(state.schema.threshold)) return state.schema.threshold;
    return isNum(state.threshold) ? state.threshold : 0.5;
  }

  function showPrediction(r) {
    const p = r.churn_probability;
    const t = threshold();
    const high = r.churn === true || (r.churn == null && p >= t);
    $('predict-result').hidden = false;
    const fill = $('gauge-fill');
    fill.style.width = (Math.min(1, Math.max(0, p)) * 100) + '%';
    fill.classList.toggle('high', high);
    $('gauge-mark').style.left = (t * 100) + '%';
    setText('gauge-mark-label', 'threshold ' + t.toFixed(2));
    const g = $('gauge');
    g.setAttribute('aria-valuenow', String(p));
    g.setAttribute('aria-valuetext', pct(p) + ', threshold ' + pct(t, 0));
    const txt = clear($('gauge-text'));
    txt.append(el('strong', { id: 'churn-prob', text: num(p) }), ' ',
      el('span', { class: 'badge ' + (high ? 'bad' : 'ok'),
        text: high ? 'likely to churn' : 'likely to stay' }),
      el('span', { class: 'muted small', text: ' model ' + (r.model_version || '?') }));
    const ul = clear($('explain'));
    const ex = (r.explanation || []).filter((e) => isNum(e.delta) && e.delta !== 0);
    const top = ex.slice(0, 8);
    const max = Math.max(1e-9, ...top.map((e) => Math.abs(e.delta)));
    for (const e of top) {
      const up = e.delta > 0;
      const w = (Math.abs(e.delta) / max * 50).toFixed(1) + '%';
      ul.append(el('li', null,
        el('span', { class: 'what' }, e.feature + ' = ' + showValue(e.value) + ' ',
          el('small', { text: '(ref ' + showValue(e.reference) + ')' })),
        el('span', { class: 'track', 'aria-hidden': 'true' },
          el('span', { class: 'bar ' + (up ? 'up' : 'down'), style: 'width:' + w })),
        el('span', { class: 'val', text: (up ? '+' : '−') + (Math.abs(e.delta) < 0.0005
          ? '<0.001' : Math.abs(e.delta).toFixed(3)),
          'aria-label': (up ? 'raised by ' : 'lowered by ') + Math.abs(e.delta).toFixed(3) })));
    }
    if (!top.length)
      ul.append(el('li', { class: 'muted', text: r.explanation
        ? 'no feature moved the score: this customer scores as the reference does'
        : 'no explanation in the answer' }));
  }

  /* ---------- 3. drift ---------- */
  function driftItems(rep) {
    const items = (rep.features || []).slice();
    if (rep.prediction) items.push(Object.assign({ pred: true }, rep.prediction,
      { name: rep.prediction.name || 'churn_probability' }));
    return items;
  }

  async function loadDrift() {
    try {
      const r = await api('/drift/reports');
      state.reports = Array.isArray(r.reports) ? r.reports : [];
      panelError('drift', null);
    } catch (e) { panelError('drift', e); return; }
    renderDrift();
  }

  function renderDrift() {
    const reps = state.reports;
    const latest = reps[reps.length - 1];
    const sum = clear($('drift-summary'));
    const bars = clear($('drift-bars'));
    const sel = $('drift-feature');
    $('drift-body').hidden = !latest;
    if (!latest) {
      sum.append('No drift check recorded yet: run one below.');
      clear(sel);
      clear($('drift-dist').tBodies[0]);
      lineChart('drift-chart', [], [], '');
      return;
    }
    sum.append(el('span', { class: 'badge ' + (latest.drift ? 'drift' : 'ok'),
      id: 'drift-verdict', text: latest.drift ? 'drift' : 'no drift' }), ' ',
    (latest.drifted != null ? latest.drifted + ' of ' + latest.checked + ' features drifted' : ''),
    (isNum(latest.drift_share) ? ' (share ' + pct(latest.drift_share) + ')' : ''),
    ' · checked ' + when(latest.time) + ago(latest.time),
    latest.rows ? ' · rows: ' + latest.rows.reference + ' reference, ' + latest.rows.current + ' current' : '',
    latest.model_version ? ' · model ' + latest.model_version : '');
    if (latest.rule) sum.append(el('br'), el('span', { class: 'muted small', text: 'rule: ' + latest.rule }));
    for (const w of latest.warnings || [])
      sum.append(el('br'), el('span', { class: 'muted small', text: 'warning: ' + w }));

    const items = driftItems(latest);
    // the scale reaches 3x the largest threshold at most, so that one huge
    // value does not squash the rest; longer bars are cut (and marked)
    const thr = Math.max(0, ...items.map((f) => f.threshold || 0));
    const top = Math.max(0, ...items.map((f) => f.value || 0));
    const scale = Math.max(1e-9, thr * 1.25, thr > 0 ? Math.min(top, thr * 3) : top);
    const order = items.filter((f) => !f.pred)
      .sort((a, b) => (b.value / (b.threshold || 1)) - (a.value / (a.threshold || 1)))
      .concat(items.filter((f) => f.pred));
    for (const f of order) {
      const st = f.status || 'ok';
      const track = el('span', { class: 'track', 'aria-hidden': 'true' },
        el('span', { class: 'bar ' + st + ((f.value || 0) > scale ? ' clipped' : ''),
          style: 'display:block;width:' +
          (Math.min(1, (f.value || 0) / scale) * 100).toFixed(1) + '%' }));
      if (isNum(f.warn)) track.append(el('span', { class: 'tick warn',
        style: 'left:' + (f.warn / scale * 100).toFixed(1) + '%', title: 'warn ' + f.warn }));
      if (isNum(f.threshold)) track.append(el('span', { class: 'tick',
        style: 'left:' + (f.threshold / scale * 100).toFixed(1) + '%',
        title: 'threshold ' + f.threshold }));
      bars.append(el('li', { class: f.pred ? 'pred' : null, 'data-status': st },
        el('span', { class: 'name', title: f.name, text: f.name }), track,
        el('span', { class: 'val' }, (f.metric || '') + ' ' + num(f.value),
          el('span', { class: 'visually-hidden', text: ', ' + st + ', threshold ' + f.threshold }))));
    }

    const prev = sel.value;
    clear(sel);
    for (const f of order) sel.append(el('option', { value: f.name, text: f.name +
      (statusOf(f) !== 'ok' ? ' (' + statusOf(f) + ')' : '') }));
    sel.value = items.some((f) => f.name === prev) ? prev : order[0].name;
    renderFeature();
  }
  const statusOf = (f) => f.status || 'ok';

  function renderFeature() {
    const reps = state.reports;
    const latest = reps[reps.length - 1];
    if (!latest) return;
    const name = $('drift-feature').value;
    const f = driftItems(latest).find((x) => x.name === name);
    const tb = clear($('drift-dist').tBodies[0]);
    if (f) {
      const bins = f.bins || [];
      const max = Math.max(1e-9, ...bins.map((b) => Math.max(b.ref || 0, b.cur || 0)));
      const pb = (cls, v, what) => el('div', { class: 'pb ' + cls },
        el('span', { style: 'width:' + ((v || 0) / max * 100).toFixed(1) + '%',
          'aria-hidden': 'true' }),
        el('span', { text: pct(v), 'aria-label': what + ' ' + pct(v) }));
      for (const b of bins)
        tb.append(el('tr', null, el('td', { text: b.label }),
          el('td', null, el('div', { class: 'pair' }, pb('ref', b.ref, 'reference'),
            pb('cur', b.cur, 'current')))));
      setText('drift-newcats', f.new_categories && f.new_categories.length
        ? 'categories unseen in training: ' + f.new_categories.join(', ') : '');
    }
    // drift values over time: the chosen feature, the prediction, the share drifted
    const rs = reps.map((r) => ({ r, t: toSec(r.time) })).filter((o) => !isNaN(o.t))
      .sort((a, b) => a.t - b.t);
    const x = rs.map((o) => o.t);
    const val = (r, n) => {
      const g = driftItems(r).find((i) => i.name === n);
      return g && isNum(g.value) ? g.value : null;
    };
    const series = [{ label: name + (f && f.metric ? ' ' + f.metric : ''),
      values: rs.map((o) => val(o.r, name)) }];
    if (latest.prediction && name !== (latest.prediction.name || 'churn_probability'))
      series.push({ label: 'prediction psi', values: rs.map((o) => val(o.r, latest.prediction.name || 'churn_probability')) });
    series.push({ label: 'share drifted', values: rs.map((o) => isNum(o.r.drift_share) ? o.r.drift_share : null) });
    if (f && isNum(f.threshold))
      series.push({ label: 'threshold', values: x.map(() => f.threshold), dash: [6, 4], color: '#5b6475' });
    lineChart('drift-chart', x, series, 'drift');
  }

  async function runCheck(ev) {
    ev.preventDefault();
    const tok = $('drift-token').value;
    const msg = $('drift-msg');
    if (!tok) { msg.className = 'small error'; msg.textContent = 'enter the admin token'; return; }
    try { sessionStorage.setItem(TOKEN_KEY, tok); } catch (e) { /* storage disabled */ }
    const btn = $('drift-run');
    btn.disabled = true;
    msg.className = 'small';
    msg.textContent = 'running the drift check…';
    try {
      const rep = await api('/drift/check', { method: 'POST',
        headers: { Authorization: 'Bearer ' + tok } });
      await loadDrift();
      const last = state.reports[state.reports.length - 1];
      if (!last || last.time !== rep.time) { state.reports.push(rep); renderDrift(); }
      msg.className = 'small ok-text';
      msg.textContent = 'check done: ' + (rep.drift ? 'drift found' : 'no drift') +
        ' (' + (rep.rows ? rep.rows.current + ' current rows' : '') + ')';
    } catch (e) {
      msg.className = 'small error';
      msg.textContent = e.status === 401 || e.status === 403
        ? 'the token was refused' : 'check failed: ' + e.message;
    } finally {
      btn.disabled = false;
    }
  }

  /* ---------- 4. model history ---------- */
  async function loadModels() {
    try { state.models = await api('/models'); panelError('models', null); } catch (e) {
      panelError('models', e); return;
    }
    const m = state.models;
    const vs = (m.versions || []).map((v) => ({ v, t: toSec(v.created, v.version) }));
    const byTime = vs.filter((o) => !isNaN(o.t)).sort((a, b) => a.t - b.t);
    const metric = (o, k) => (o.v.metrics && isNum(o.v.metrics[k]) ? o.v.metrics[k] : null);
    lineChart('models-chart', byTime.map((o) => o.t), [
      { label: 'ROC-AUC', values: byTime.map((o) => metric(o, 'roc_auc')) },
      { label: 'PR-AUC', values: byTime.map((o) => metric(o, 'pr_auc')) },
    ], 'score');

    const tb = clear($('models-table').tBodies[0]);
    for (const o of vs.slice().sort((a, b) => (b.t || 0) - (a.t || 0))) {
      const v = o.v;
      tb.append(el('tr', { 'data-version': v.version },
        el('td', { text: v.version, title: v.sha256 || '' }),
        el('td', { text: when(v.created, v.version) }),
        el('td', { class: 'num', text: num(metric(o, 'roc_auc')) }),
        el('td', { class: 'num', text: num(metric(o, 'pr_auc')) }),
        el('td', { class: 'num', text: num(metric(o, 'f1')) }),
        el('td', null, (v.aliases || []).map((a) => el('span', { class: 'badge', text: a })))));
    }
    if (!vs.length) tb.append(el('tr', null, el('td', { colspan: '6', class: 'muted',
      text: 'no versions in the registry' })));

    const dl = clear($('models-aliases'));
    for (const [a, ver] of Object.entries(m.aliases || {}))
      dl.append(el('div', null, el('dt', { text: a }), el('dd', { text: ver })));
    if (!dl.children.length) dl.append(el('div', null, el('dt', { text: 'aliases' }),
      el('dd', { text: 'none' })));

    const hb = clear($('models-history').tBodies[0]);
    const hist = (m.history || []).slice().sort((a, b) => toSec(b.time) - toSec(a.time));
    for (const h of hist)
      hb.append(el('tr', null, el('td', { text: when(h.time) }), el('td', { text: h.alias || '' }),
        el('td', { text: h.action || '' }), el('td', { text: h.version || '' }),
        el('td', { text: h.previous || '–' })));
    if (!hist.length) hb.append(el('tr', null, el('td', { colspan: '5', class: 'muted',
      text: 'no alias changes recorded' })));
    markServing();
  }

  function markServing() {
    for (const tr of document.querySelectorAll('#models-table tbody tr[data-version]')) {
      const on = tr.dataset.version === state.version;
      tr.classList.toggle('serving', on);
      const old = tr.querySelector('.serving-badge');
      if (on && !old) tr.lastChild.prepend(el('span', { class: 'badge ok serving-badge', text: 'serving' }));
      if (!on && old) old.remove();
    }
  }

  /* ---------- 4b. live performance (GET /performance?by=week) ---------- */
  // the Monday 00:00 UTC of an ISO week "2026-W47", in seconds; NaN if not one
  function isoWeekStart(label) {
    const m = /^(\d{4})-W(\d{2})$/.exec(label || '');
    if (!m) return NaN;
    const jan4 = Date.UTC(+m[1], 0, 4), dow = (new Date(jan4).getUTCDay() + 6) % 7;
    return (jan4 - dow * 86400e3 + (m[2] - 1) * 7 * 86400e3) / 1000;
  }

  async function loadPerformance() {
    let p;
    try { p = await api('/performance?by=week'); } catch (e) {
      clear($('perf-list')).append(el('li', { class: 'muted', text: e.status === 503
        ? 'live performance needs the registry: ' + e.message : 'not available: ' + e.message }));
      lineChart('perf-chart', [], [], '');
      return;
    }
    renderPerformance(p);
  }

  function renderPerformance(p) {
    const vs = Array.isArray(p.versions) ? p.versions : [];
    const weeks = new Set();
    for (const v of vs) for (const per of v.periods || []) weeks.add(per.period);
    const xs = [...weeks].map((w) => ({ w, t: isoWeekStart(w) })).filter((o) => !isNaN(o.t))
      .sort((a, b) => a.t - b.t);
    const x = xs.map((o) => o.t);
    const series = [];
    vs.forEach((v, i) => {
      const color = PALETTE[i % PALETTE.length];
      const by = Object.fromEntries((v.periods || []).map((per) => [per.period, per.roc_auc]));
      series.push({ label: v.model_version + ' live', color,
        values: xs.map((o) => (isNum(by[o.w]) ? by[o.w] : null)) });
      if (isNum(v.holdout_roc_auc))
        series.push({ label: v.model_version + ' holdout', color, dash: [6, 4],
          values: x.map(() => v.holdout_roc_auc) });
    });
    lineChart('perf-chart', x, series, 'ROC-AUC');
    const ul = clear($('perf-list'));
    for (const v of vs) {
      const a = v.all || {};
      ul.append(el('li', { 'data-version': v.model_version },
        el('strong', { text: v.model_version }), ': live ROC-AUC ',
        el('span', { class: 'num perf-auc', text: num(a.roc_auc) }),
        ' on ' + (isNum(a.rows) ? a.rows : 0) + ' customers (' + (isNum(a.positives) ? a.positives : 0) +
        ' churned) · holdout ' + num(v.holdout_roc_auc)));
    }
    if (!vs.length) ul.append(el('li', { class: 'muted', text: 'no outcomes joined to served predictions yet' +
      (isNum(p.outcomes) ? ' (' + p.outcomes + ' outcomes recorded)' : '') }));
  }

  /* ---------- wiring ---------- */
  function every(fn, ms) {
    const loop = async () => {
      try { await fn(); } catch (e) { /* shown in the panel */ }
      setTimeout(loop, document.hidden ? ms * 4 : ms);
    };
    return loop();
  }

  function init() {
    $('predict-form').addEventListener('submit', predict);
    $('predict-reset').addEventListener('click', resetForm);
    $('drift-feature').addEventListener('change', renderFeature);
    $('drift-form').addEventListener('submit', runCheck);
    try { $('drift-token').value = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { /* */ }
    Promise.all([every(loadHealth, HEALTH_EVERY), every(loadDrift, SLOW_EVERY),
      every(loadModels, SLOW_EVERY), every(loadPerformance, SLOW_EVERY)]).then(() => document.body.setAttribute('data-ready', '1'));
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
