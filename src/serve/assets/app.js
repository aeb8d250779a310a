// gonogo's dashboard, enhanced. Every page works without this file (forms post, a running run's page
// refreshes itself through a <noscript> meta refresh); with it, a running run updates in place, the
// audit filter applies on change, and rolling back asks once more. Served from 'self' under a CSP
// without 'unsafe-inline': no inline handlers, no eval, no innerHTML with data (text only).
(() => {
  'use strict';

  /** How often and how many times a running run is polled when server-sent events are not available. */
  const POLL_MS = 1000;
  const MAX_POLLS = 600;

  const STATUSES = ['pass', 'skipped', 'waived', 'pending', 'fail', 'error'];

  function text(el, value) {
    if (el) el.textContent = value;
  }

  function statusBadge(status) {
    const span = document.createElement('span');
    span.className = `status status-${STATUSES.includes(status) ? status : 'other'}`;
    span.textContent = status;
    return span;
  }

  /** A row for a result the server did not render yet (the page fills in the rest on reload). */
  function resultRow(r) {
    const tr = document.createElement('tr');
    tr.id = `result-${r.id}`;
    tr.dataset.item = r.id;
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = r.id;
    const tier = document.createElement('td');
    tier.textContent = r.tier || '';
    const status = document.createElement('td');
    const evidence = document.createElement('td');
    const msg = document.createElement('p');
    msg.className = 'message';
    evidence.append(msg);
    const attempts = document.createElement('td');
    const took = document.createElement('td');
    tr.append(th, tier, status, evidence, attempts, took);
    return tr;
  }

  /** Applies a snapshot `{ status, results: [{ id, status, message, tier?, attempts?, durationMs? }] }` to the run page. */
  function applySnapshot(root, snap) {
    if (!snap || typeof snap !== 'object') return false;
    const results = Array.isArray(snap.results) ? snap.results : [];
    const body = document.querySelector('[data-live="results"]');
    if (body) {
      for (const r of results) {
        if (!r || typeof r.id !== 'string') continue;
        let row = body.querySelector(`tr[data-item="${CSS.escape(r.id)}"]`);
        if (!row) {
          row = resultRow(r);
          body.append(row);
        }
        if (row.dataset.status !== r.status) {
          row.dataset.status = r.status;
          const cell = row.children[2];
          if (cell) cell.replaceChildren(statusBadge(String(r.status)));
          const msg = row.querySelector('p.message');
          text(msg, typeof r.message === 'string' ? r.message : '');
          if (row.children[4] && Array.isArray(r.attempts)) row.children[4].textContent = String(r.attempts.length);
        }
      }
    }
    const expected = Number(root.dataset.expected);
    const progress = document.querySelector('[data-live="progress"]');
    if (progress) {
      progress.max = Number.isFinite(expected) && expected > 0 ? expected : Math.max(results.length, 1);
      progress.value = results.length;
      progress.textContent = String(results.length);
    }
    text(document.querySelector('[data-live="count"]'), Number.isFinite(expected) && expected > 0 ? `${results.length} of ${expected}` : String(results.length));
    const status = typeof snap.status === 'string' ? snap.status : 'running';
    const statusEl = document.querySelector('[data-live="status"]');
    if (statusEl) {
      statusEl.textContent = status;
      statusEl.className = `run-status run-status-${status}`;
    }
    root.dataset.runStatus = status;
    document.body.dataset.liveUpdates = String(Number(document.body.dataset.liveUpdates || '0') + 1);
    return status !== 'running';
  }

  /** The run ended: the server renders the whole page again (decision, stages, evidence). */
  function finished() {
    window.location.reload();
  }

  function poll(root, url) {
    let polls = 0;
    const tick = async () => {
      if (polls++ >= MAX_POLLS) return;
      try {
        const res = await fetch(url, { headers: { accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' });
        if (res.ok && applySnapshot(root, await res.json())) return finished();
      } catch {
        // the next tick tries again; the page itself is still right as rendered
      }
      setTimeout(tick, POLL_MS);
    };
    setTimeout(tick, POLL_MS);
  }

  function live(root) {
    const eventsUrl = root.dataset.eventsUrl;
    const pollUrl = root.dataset.pollUrl;
    if (eventsUrl && 'EventSource' in window) {
      const source = new EventSource(eventsUrl, { withCredentials: false });
      let ended = false;
      source.onmessage = (ev) => {
        let snap;
        try {
          snap = JSON.parse(ev.data);
        } catch {
          return;
        }
        if (applySnapshot(root, snap)) {
          ended = true;
          source.close();
          finished();
        }
      };
      source.onerror = () => {
        if (ended) return;
        // A closed stream (the server ended it, or a proxy cut it): poll instead, when the page says where.
        source.close();
        if (pollUrl) poll(root, pollUrl);
      };
      return;
    }
    if (pollUrl) poll(root, pollUrl);
  }

  function enhance() {
    const run = document.querySelector('[data-run-status="running"]');
    if (run) live(run);

    // The audit filter applies as soon as a kind is picked.
    const kind = document.querySelector('form.filter select[name="kind"]');
    if (kind) kind.addEventListener('change', () => kind.form.requestSubmit());

    // Rolling production back deserves a second look.
    for (const button of document.querySelectorAll('form.decide button[value="rollback"]')) {
      button.addEventListener('click', (ev) => {
        if (!window.confirm('Roll this release back now?')) ev.preventDefault();
      });
    }
    document.documentElement.dataset.enhanced = 'true';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', enhance);
  else enhance();
})();
