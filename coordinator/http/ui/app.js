// moe4 dashboard: one page, hash routes (#/, #/campaign/ID, #/job/ID,
// #/workers), data from /api/v1, live updates from /api/v1/events.
//
// Every value from the server is put into the page with textContent (never
// innerHTML), so a family or campaign name is always text. The page runs
// under a strict Content-Security-Policy: no inline script or style markup.
'use strict';

const state = { role: null, csrf: '', charts: [], renderSeq: 0, source: null, pending: null, poll: null };
const main = () => document.getElementById('main');

// Test hooks: CSP violations and renders, counted on <body>.
document.addEventListener('securitypolicyviolation', (e) => {
  const b = document.body;
  b.dataset.cspViolations = String(Number(b.dataset.cspViolations || 0) + 1);
  b.dataset.cspLast = e.violatedDirective + ' ' + (e.blockedURI || '');
});

// el('td', {class: 'num'}, 'text', child, ...): text children become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'text') e.textContent = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null) continue;
    e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const pct = (x) => (x === null || x === undefined ? '–' : (100 * x).toFixed(1) + '%');
const pm = (m, sd, n) => (m === null || m === undefined ? '–'
  : pct(m) + (n > 1 && sd !== null && sd !== undefined ? ' ± ' + (100 * sd).toFixed(1) : ''));
const num = (x, d) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));
const when = (ms) => (ms ? new Date(ms).toLocaleString() : '–');
function duration(s) {
  if (s === null || s === undefined) return '–';
  s = Math.round(s);
  if (s < 90) return s + ' s';
  if (s < 5400) return Math.round(s / 60) + ' min';
  if (s < 172800) return (s / 3600).toFixed(1) + ' h';
  return (s / 86400).toFixed(1) + ' d';
}
const params = (n) => (!n ? '–' : n >= 1e6 ? (n / 1e6).toFixed(2) + ' M' : n >= 1e4 ? (n / 1e3).toFixed(1) + ' k' : String(n));
const badge = (s) => el('span', { class: 'state ' + s }, s);

async function api(path, options) {
  const opts = Object.assign({ credentials: 'same-origin', headers: {} }, options || {});
  if (opts.method && opts.method !== 'GET') opts.headers['X-CSRF-Token'] = state.csrf;
  const r = await fetch('/api/v1/' + path, opts);
  let body = null;
  try { body = await r.json(); } catch (e) { body = { error: r.statusText }; }
  if (!r.ok) {
    const err = new Error(body && body.error ? body.error : r.statusText);
    err.status = r.status;
    throw err;
  }
  return body;
}

function table(headers, rows, attrs) {
  return el('table', attrs || {},
    el('thead', {}, el('tr', {}, headers.map((h) => (typeof h === 'string'
      ? el('th', {}, h) : el('th', { class: 'num' }, h.num))))),
    el('tbody', {}, rows));
}

function card(k, v, id) {
  return el('div', { class: 'card' }, el('div', { class: 'k' }, k), el('div', { class: 'v', id: id }, v));
}

// A bar of job counts by state.
function progressBar(c) {
  const states = ['succeeded', 'failed', 'cancelled', 'running', 'leased', 'pending'];
  const total = states.reduce((a, s) => a + (c[s] || 0), 0) || 1;
  const bar = el('div', { class: 'bar', title: states.map((s) => s + ' ' + (c[s] || 0)).join(', ') });
  for (const s of states) {
    if (!c[s]) continue;
    const seg = el('span', { class: 's-' + s });
    seg.style.width = (100 * c[s] / total) + '%';  // CSSOM, allowed by the CSP
    bar.appendChild(seg);
  }
  return bar;
}

function lineChart(canvas, labels, datasets, yLabel) {
  if (typeof Chart === 'undefined') {
    canvas.replaceWith(el('p', { class: 'muted' }, 'Charts are not built into this coordinator.'));
    return;
  }
  const palette = ['#2f6fdd', '#2e9e5b', '#d64545', '#d9952b', '#8a4fd1', '#1aa3a3', '#c2418f', '#7a7f89', '#4f8f2f', '#b5651d'];
  datasets.forEach((d, i) => {
    d.borderColor = d.borderColor || palette[i % palette.length];
    d.backgroundColor = d.borderColor;
    d.pointRadius = 2;
    d.spanGaps = true;
    d.tension = 0.15;
  });
  state.charts.push(new Chart(canvas, {
    type: 'line',
    data: { labels, datasets },
    options: {
      animation: false, maintainAspectRatio: false, responsive: true,
      scales: { x: { title: { display: true, text: 'epoch' } }, y: { title: { display: true, text: yLabel } } },
      plugins: { legend: { position: 'bottom' } },
    },
  }));
}

// ---- pages -------------------------------------------------------------------

async function campaignsPage(root) {
  const data = await api('campaigns?limit=100');
  root.appendChild(el('h1', {}, 'Campaigns'));
  if (!data.items.length) {
    root.appendChild(el('p', { class: 'muted' }, 'No campaigns yet: submit one with moe4ctl submit.'));
    return;
  }
  const rows = data.items.map((c) => el('tr', { 'data-campaign-id': c.campaign_id },
    el('td', { class: 'num' }, c.campaign_id),
    el('td', {}, el('a', { href: '#/campaign/' + c.campaign_id, class: 'campaign-name' }, c.name)),
    el('td', {}, badge(c.state)),
    el('td', {}, c.sampler), el('td', {}, c.catalogue), el('td', {}, c.dataset),
    el('td', {}, progressBar(c)),
    el('td', { class: 'num succeeded' }, c.succeeded + ' / ' + c.jobs),
    el('td', { class: 'num best' }, pct(c.best_test_accuracy)),
    el('td', {}, when(c.created_unix_ms))));
  root.appendChild(table(['id', 'name', 'state', 'sampler', 'catalogue', 'dataset', 'progress',
    { num: 'succeeded' }, { num: 'best (test @ selected)' }, 'created'], rows, { id: 'campaigns' }));
  if (data.next_cursor) root.appendChild(el('p', { class: 'muted' }, 'Showing the newest 100 campaigns.'));
}

async function campaignPage(root, id) {
  const [c, lb, fam, curves, cov, events] = await Promise.all([
    api('campaigns/' + id), api('campaigns/' + id + '/leaderboard?top=20'),
    api('campaigns/' + id + '/families'), api('campaigns/' + id + '/curves?top=5'),
    api('campaigns/' + id + '/coverage'), api('campaigns/' + id + '/events?limit=15')]);
  const s = c.campaign;
  root.appendChild(el('h1', {}, el('span', { id: 'campaign-title' }, s.name), ' ', badge(s.state)));
  root.appendChild(el('div', { class: 'cards' },
    card('jobs', s.jobs, 'jobs-total'),
    card('succeeded', s.succeeded, 'jobs-succeeded'),
    card('running', s.running + s.leased, 'jobs-running'),
    card('failed', s.failed, 'jobs-failed'),
    card('epochs', c.epochs_done + ' / ' + c.epochs_total, 'epochs-done'),
    card('ETA', duration(c.eta_seconds), 'eta'),
    card('workers busy', c.busy_workers + ' of ' + c.live_workers),
    card('best (test @ selected)', pct(s.best_test_accuracy), 'best')));
  root.appendChild(el('p', {}, progressBar(s)));
  root.appendChild(el('p', { class: 'muted' }, `K=${s.k}, sampler ${s.sampler}, catalogue ${s.catalogue}, `
    + `${s.dataset}, ${s.epochs} epochs, ${s.replicates} replicate(s), selection ${s.selection}`));
  if (c.pending_reason) root.appendChild(el('p', { class: 'error', id: 'pending-reason' }, c.pending_reason));

  if (state.role === 'admin') {
    const act = (what) => async () => {
      if (what === 'cancel' && !window.confirm('Cancel campaign ' + s.name + ' and all its unfinished jobs?')) return;
      try { await api('campaigns/' + id + '/' + what, { method: 'POST' }); } catch (e) { window.alert(e.message); }
      refresh();
    };
    const bar = el('div', { class: 'actions', id: 'admin-actions' });
    if (s.state === 'active') bar.appendChild(el('button', { id: 'pause', onclick: act('pause') }, 'Pause'));
    if (s.state === 'paused') bar.appendChild(el('button', { id: 'resume', onclick: act('resume') }, 'Resume'));
    if (s.state === 'active' || s.state === 'paused') {
      bar.appendChild(el('button', { id: 'cancel', class: 'danger', onclick: act('cancel') }, 'Cancel'));
    }
    root.appendChild(bar);
  }

  root.appendChild(el('h2', {}, 'Leaderboard'));
  if (!lb.items.length) root.appendChild(el('p', { class: 'muted' }, 'No succeeded ensembles yet.'));
  else {
    root.appendChild(table(['#', 'families', { num: 'n' }, { num: 'validation' }, { num: 'test @ selected' },
      { num: 'final test' }, { num: 'epoch' }, { num: 'params' }],
    lb.items.map((e, i) => el('tr', { 'data-job-id': e.job_id },
      el('td', { class: 'num' }, i + 1),
      el('td', { class: 'families' }, el('a', { href: '#/job/' + e.job_id }, e.families.join(' + '))),
      el('td', { class: 'num' }, e.n),
      el('td', { class: 'num validation' }, pm(e.validation_accuracy, e.validation_accuracy_sd, e.n)),
      el('td', { class: 'num selected' }, pm(e.selected_test_accuracy, e.selected_test_accuracy_sd, e.n)),
      el('td', { class: 'num final' }, pm(e.final_test_accuracy, e.final_test_accuracy_sd, e.n)),
      el('td', { class: 'num' }, e.selected_epoch || '–'),
      el('td', { class: 'num' }, params(e.parameter_count)))),
    { id: 'leaderboard' }));
  }

  root.appendChild(el('h2', {}, 'Learning curves of the leading candidates (test accuracy)'));
  if (!curves.items.length) root.appendChild(el('p', { class: 'muted' }, 'No epochs yet.'));
  else {
    const canvas = el('canvas', { id: 'curves' });
    root.appendChild(el('div', { class: 'chart' }, canvas));
    const maxEpochs = Math.max(...curves.items.map((c) => c.epochs.length ? Math.max(...c.epochs) : 0));
    const labels = Array.from({ length: maxEpochs }, (_, i) => i + 1);
    lineChart(canvas, labels, curves.items.map((cv) => {
      const y = labels.map(() => null);
      cv.epochs.forEach((e, i) => { y[e - 1] = cv.test_accuracy[i]; });
      return { label: '#' + cv.job_id + ' ' + cv.families.join('+'), data: y };
    }), 'test accuracy');
  }

  root.appendChild(el('h2', {}, 'Families'));
  root.appendChild(table(['family', { num: 'n' }, { num: 'runs' }, { num: 'validation mean' }, { num: 'test mean' },
    { num: '95% CI' }, { num: 'sd' }, { num: 'best' }, { num: 'planned' }, { num: 'evaluated' }],
  (() => {
    const covBy = {};
    for (const f of cov.families) covBy[f.family] = f;
    const seen = new Set(fam.items.map((f) => f.family));
    const rows = fam.items.map((f) => el('tr', { 'data-family': f.family },
      el('td', { class: 'family' }, f.family), el('td', { class: 'num' }, f.n), el('td', { class: 'num' }, f.runs),
      el('td', { class: 'num' }, pct(f.validation_mean)), el('td', { class: 'num' }, pct(f.mean)),
      el('td', { class: 'num' }, f.n > 1 ? pct(f.ci95_low) + ' – ' + pct(f.ci95_high) : '–'),
      el('td', { class: 'num' }, f.n > 1 ? (100 * f.std).toFixed(1) : '–'),
      el('td', { class: 'num' }, pct(f.best)),
      el('td', { class: 'num' }, covBy[f.family] ? covBy[f.family].count : '–'),
      el('td', { class: 'num' }, covBy[f.family] ? covBy[f.family].evaluated : '–')));
    for (const f of cov.families) {
      if (seen.has(f.family)) continue;
      rows.push(el('tr', { 'data-family': f.family }, el('td', { class: 'family' }, f.family),
        el('td', { class: 'num' }, 0), el('td', {}, ''), el('td', {}, ''), el('td', {}, ''), el('td', {}, ''),
        el('td', {}, ''), el('td', {}, ''), el('td', { class: 'num' }, f.count), el('td', { class: 'num' }, f.evaluated)));
    }
    return rows;
  })(), { id: 'families' }));
  root.appendChild(el('p', { class: 'muted' },
    `Coverage: ${cov.candidates} combinations planned, ${cov.evaluated_candidates} evaluated, `
    + `${cov.failed_candidates} failed; pairs covered ${cov.pairs_covered} of ${cov.pairs_total}; `
    + `max/min family share ${num(cov.max_min_ratio, 2)}.`));

  root.appendChild(el('h2', {}, 'Recent events'));
  if (!events.items.length) root.appendChild(el('p', { class: 'muted' }, 'None.'));
  else {
    root.appendChild(table(['at', 'kind', 'job', 'detail'], events.items.map((e) => el('tr', {},
      el('td', {}, when(e.at_unix_ms)), el('td', {}, e.kind),
      el('td', {}, e.job_id ? el('a', { href: '#/job/' + e.job_id }, e.job_id) : ''),
      el('td', {}, e.detail))), { id: 'events' }));
  }
}

async function jobPage(root, id) {
  const d = await api('jobs/' + id);
  const j = d.job;
  root.appendChild(el('h1', {}, 'Job ' + j.job_id + ': ', el('span', { id: 'job-families' }, j.families.join(' + ')),
    ' ', badge(j.state)));
  root.appendChild(el('p', {}, el('a', { href: '#/campaign/' + j.campaign_id }, '← campaign ' + j.campaign_id)));
  root.appendChild(el('div', { class: 'cards' },
    card('epochs', j.epochs_done + ' / ' + j.epochs_total, 'job-epochs'),
    card('attempt', j.attempt + ' of ' + j.max_attempts),
    card('worker', j.worker_name || '–'),
    card('test @ selected', pct(j.state === 'succeeded' ? j.selected_test_accuracy : null)),
    card('selected epoch', j.selected_epoch || '–'),
    card('train time', duration(j.train_seconds || null)),
    card('replicate', j.replicate),
    card('seed', j.seed)));
  if (j.error) root.appendChild(el('p', { class: 'error', id: 'job-error' }, 'Failure: ' + j.error));
  // Files the dataset load left out (dataset.skip_bad_images): most first.
  const skipped = Object.entries(j.skipped_images || {}).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  if (skipped.length) {
    const total = skipped.reduce((sum, [, n]) => sum + n, 0);
    root.appendChild(el('p', { class: 'warning', id: 'job-skipped' },
      'Skipped ' + total + ' bad image file' + (total === 1 ? '' : 's') + ' (dataset.skip_bad_images): ' +
      skipped.map(([key, n]) => key + ' ' + n).join(', ')));
  }

  const ep = d.epochs;
  if (ep.length) {
    const labels = ep.map((e) => e.epoch);
    const g = el('div', { class: 'grid2' });
    const acc = el('canvas', { id: 'job-accuracy' });
    const loss = el('canvas', { id: 'job-loss' });
    g.appendChild(el('div', { class: 'chart' }, acc));
    g.appendChild(el('div', { class: 'chart' }, loss));
    root.appendChild(g);
    lineChart(acc, labels, [
      { label: 'train', data: ep.map((e) => e.train_accuracy) },
      { label: 'validation', data: ep.map((e) => e.validation_accuracy) },
      { label: 'test', data: ep.map((e) => e.test_accuracy) }], 'accuracy');
    lineChart(loss, labels, [
      { label: 'train', data: ep.map((e) => e.train_loss) },
      { label: 'validation', data: ep.map((e) => e.validation_loss) },
      { label: 'test', data: ep.map((e) => e.test_loss) }], 'loss');

    const last = ep[ep.length - 1];
    root.appendChild(el('h2', {}, 'Experts (epoch ' + last.epoch + ')'));
    root.appendChild(table(['expert', { num: 'mean gate weight' }, { num: 'top-1 routing share' },
      { num: 'standalone accuracy' }], j.families.map((f, i) => el('tr', {},
      el('td', {}, f), el('td', { class: 'num' }, num(last.gate_mean[i], 3)),
      el('td', { class: 'num' }, pct(last.routing_share[i])), el('td', { class: 'num' }, pct(last.expert_accuracy[i])))),
    { id: 'experts' }));
  }

  root.appendChild(el('h2', {}, 'Epochs'));
  root.appendChild(table([{ num: 'epoch' }, { num: 'train loss' }, { num: 'train acc' }, { num: 'val acc' },
    { num: 'test loss' }, { num: 'test acc' }, { num: 'lr' }, { num: 'entropy' }, { num: 'dead' }, { num: 'E' },
    { num: 'T' }, { num: 's' }, { num: 'img/s' }],
  ep.map((e) => el('tr', { 'data-epoch': e.epoch },
    el('td', { class: 'num' }, e.epoch), el('td', { class: 'num' }, num(e.train_loss, 4)),
    el('td', { class: 'num' }, pct(e.train_accuracy)), el('td', { class: 'num' }, pct(e.validation_accuracy)),
    el('td', { class: 'num' }, num(e.test_loss, 4)), el('td', { class: 'num test-accuracy' }, pct(e.test_accuracy)),
    el('td', { class: 'num' }, e.lr === null ? '–' : Number(e.lr).toExponential(2)),
    el('td', { class: 'num' }, num(e.routing_entropy, 3)), el('td', { class: 'num' }, e.dead_experts),
    el('td', { class: 'num' }, e.ecology === null ? '–' : num(e.ecology, 2)),
    el('td', { class: 'num' }, num(e.temperature, 2)), el('td', { class: 'num' }, num(e.epoch_seconds, 1)),
    el('td', { class: 'num' }, num(e.images_per_second, 0)))), { id: 'epochs' }));

  root.appendChild(el('h2', {}, 'Attempts'));
  root.appendChild(table([{ num: 'attempt' }, 'worker', 'started', 'ended', 'outcome', 'reason'],
    d.attempts.map((a) => el('tr', {}, el('td', { class: 'num' }, a.attempt), el('td', {}, a.worker || '–'),
      el('td', {}, when(a.started_unix_ms)), el('td', {}, when(a.ended_unix_ms)),
      el('td', {}, a.outcome || 'running'), el('td', {}, a.reason))), { id: 'attempts' }));
}

async function workersPage(root) {
  const d = await api('workers?limit=500');
  root.appendChild(el('h1', {}, 'Workers'));
  if (!d.items.length) {
    root.appendChild(el('p', { class: 'muted' }, 'No worker has registered yet.'));
    return;
  }
  root.appendChild(table(['name', 'device', { num: 'memory' }, 'state', 'job', { num: 'heartbeat' },
    { num: 'img/s' }, { num: 'done' }, { num: 'failed' }],
  d.items.map((w) => el('tr', { 'data-worker-id': w.worker_id },
    el('td', {}, w.name), el('td', {}, w.device_kind + (w.device_name ? ' · ' + w.device_name : '')),
    el('td', { class: 'num' }, w.device_memory_mb ? (w.device_memory_mb / 1024).toFixed(1) + ' GiB' : '–'),
    el('td', {}, badge(w.state)),
    el('td', {}, w.current_job_id ? el('a', { href: '#/job/' + w.current_job_id }, w.current_job_id) : '–'),
    el('td', { class: 'num' }, duration(w.heartbeat_age_seconds) + ' ago'),
    el('td', { class: 'num' }, w.images_per_second ? num(w.images_per_second, 0) : '–'),
    el('td', { class: 'num' }, w.jobs_succeeded), el('td', { class: 'num' }, w.jobs_failed))), { id: 'workers' }));
}

function signInPage(root, message) {
  const input = el('input', { type: 'password', id: 'token', autocomplete: 'off', placeholder: 'token' });
  const err = el('p', { class: 'error', id: 'signin-error' }, message || '');
  const form = el('form', { class: 'signin', id: 'signin' },
    el('h1', {}, 'Sign in'),
    el('p', { class: 'muted' }, 'Paste the admin or reader token of this coordinator (the one moe4ctl uses).'),
    input, el('button', { type: 'submit' }, 'Sign in'), err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const s = await api('session', { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: input.value }) });
      state.role = s.role;
      state.csrf = s.csrf;
      input.value = '';
      start();
    } catch (e) {
      err.textContent = e.message;
    }
  });
  root.appendChild(form);
  document.body.dataset.view = 'signin';
}

// ---- routing and live updates ----------------------------------------------------------

async function render() {
  const seq = ++state.renderSeq;
  const hash = location.hash || '#/';
  let m;
  const next = el('div', {});
  let view = 'campaigns';
  try {
    if ((m = hash.match(/^#\/campaign\/(\d+)$/))) { view = 'campaign'; await campaignPage(next, m[1]); }
    else if ((m = hash.match(/^#\/job\/(\d+)$/))) { view = 'job'; await jobPage(next, m[1]); }
    else if (hash === '#/workers') { view = 'workers'; await workersPage(next); }
    else await campaignsPage(next);
  } catch (e) {
    if (e.status === 401) { state.role = null; showSignIn('Your session ended: sign in again.'); return; }
    next.replaceChildren(el('p', { class: 'error' }, 'Could not load: ' + e.message));
  }
  if (seq !== state.renderSeq) return;  // a newer render won
  const scrollY = window.scrollY;
  main().replaceChildren(next);
  window.scrollTo(0, scrollY);
  // Charts of the page just replaced (or of a render that lost) go; those
  // built for this one, while detached, are drawn at their real size.
  state.charts = state.charts.filter((c) => {
    if (document.body.contains(c.canvas)) return true;
    c.destroy();
    return false;
  });
  for (const c of state.charts) { c.resize(); c.update('none'); }
  document.body.dataset.view = view;
  document.body.dataset.renders = String(Number(document.body.dataset.renders || 0) + 1);
}

// Re-render soon, at most a few times a second however many events arrive.
function refresh() {
  if (state.pending) return;
  state.pending = setTimeout(() => { state.pending = null; render(); }, 250);
}

// While the live feed is refused (the coordinator's stream limit, or a proxy
// that does not pass streams), the page polls, and tries the feed again now
// and then.
const POLL_MS = 5000, RETRY_FEED_MS = 60000;

function stopPolling() {
  clearInterval(state.poll);
  state.poll = null;
}

function connectEvents() {
  if (state.source) state.source.close();
  const live = document.getElementById('live');
  const es = new EventSource('/api/v1/events');
  es.addEventListener('hello', () => {
    stopPolling();
    live.textContent = 'live';
    live.classList.add('on');
  });
  es.addEventListener('change', refresh);
  es.onerror = () => {
    live.classList.remove('on');
    if (es.readyState !== EventSource.CLOSED) {  // the browser reconnects by itself
      live.textContent = 'reconnecting';
      return;
    }
    live.textContent = 'polling';
    if (!state.poll) state.poll = setInterval(refresh, POLL_MS);
    setTimeout(() => { if (state.source === es) connectEvents(); }, RETRY_FEED_MS);
  };
  state.source = es;
}

function showSignIn(message) {
  if (state.source) { state.source.close(); state.source = null; }
  stopPolling();
  document.getElementById('who').textContent = '';
  document.getElementById('signout').hidden = true;
  main().replaceChildren();
  signInPage(main(), message);
}

function start() {
  document.getElementById('who').textContent = 'signed in as ' + state.role;
  document.body.dataset.role = state.role;
  document.getElementById('signout').hidden = false;
  connectEvents();
  render();
}

async function boot() {
  document.getElementById('signout').addEventListener('click', async () => {
    try { await api('session', { method: 'DELETE' }); } catch (e) { /* signed out anyway */ }
    state.role = null;
    showSignIn('');
  });
  window.addEventListener('hashchange', render);
  try {
    const s = await api('session');
    state.role = s.role;
    state.csrf = s.csrf;
    start();
  } catch (e) {
    showSignIn('');
  }
}

document.addEventListener('DOMContentLoaded', boot);
