// Agents board: live status per agent, quick status change (optimistic), bulk change,
// status history.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, qs } from '../lib/api.js';
import { useRealtimeAgentStatus } from '../lib/hooks.js';
import { notify } from '../lib/notify.js';
import { canAdmin, errText, fmtDuration, fmtTime, STATUSES } from '../lib/format.js';

function History({ agent, onClose }) {
  const [rows, setRows] = useState(null);
  const [err, setErr] = useState(null);
  useEffect(() => {
    setRows(null);
    setErr(null);
    api('GET', `/api/v1/agents/${encodeURIComponent(agent.id)}/history${qs({})}`)
      .then((b) => setRows(b.data || []))
      .catch(setErr);
  }, [agent.id]);
  return html`<div class="card history" data-testid=${`agent-history-panel-${agent.id}`} role="region" aria-label=${`Status history of ${agent.display_name}`}>
    <div class="page-head"><h2>History: ${agent.display_name}</h2><button type="button" class="btn btn-small" onClick=${onClose}>Close</button></div>
    ${err ? html`<p class="error" role="alert">${errText(err)}</p>` : null}
    ${rows === null && !err ? html`<p class="muted">Loading…</p>` : null}
    ${rows && rows.length === 0 ? html`<p class="muted">No history yet.</p>` : null}
    ${rows && rows.length
      ? html`<div class="table-wrap"><table>
          <thead><tr><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Duration</th></tr></thead>
          <tbody>${rows.map(
            (h) => html`<tr key=${h.id}><td><span class=${`pill pill-${h.status}`}>${h.status}</span></td><td>${h.reason || ''}</td><td>${fmtTime(h.started_at)}</td><td>${h.ended_at ? fmtTime(h.ended_at) : 'now'}</td><td>${fmtDuration((h.ended_at ? Date.parse(h.ended_at) : Date.now()) - Date.parse(h.started_at))}</td></tr>`
          )}</tbody></table></div>`
      : null}
  </div>`;
}

export function Agents({ user }) {
  const [filter, setFilter] = useState('');
  const { agents, loading, error, updateStatus, apply } = useRealtimeAgentStatus({ status: filter || undefined });
  const [selected, setSelected] = useState(new Set());
  const [bulkStatus, setBulkStatus] = useState('online');
  const [bulkReason, setBulkReason] = useState('');
  const [history, setHistory] = useState(null);
  const [, setTick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), 10000); // keeps "for 3m" current
    return () => clearInterval(t);
  }, []);
  const admin = canAdmin(user);
  const canEdit = (a) => admin || (user.role === 'agent' && a.user_id === user.id);

  function toggle(id) {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  }

  async function bulk(e) {
    e.preventDefault();
    if (!selected.size) return;
    try {
      const r = await api('POST', '/api/v1/agents/bulk-status', { body: { ids: [...selected], status: bulkStatus, reason: bulkReason } });
      for (const row of (r && r.data) || []) if (row && row.id) apply(row);
      notify({ kind: 'success', priority: 'low', title: `Status set to ${bulkStatus}`, body: `${selected.size} agent(s)` });
      setSelected(new Set());
    } catch (err) {
      notify({ kind: 'error', title: 'Bulk change failed', body: errText(err) });
    }
  }

  const counts = {};
  for (const a of agents) counts[a.status] = (counts[a.status] || 0) + 1;

  return html`<section aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title">Agents</h1>
      <label class="inline">Show
        <select data-testid="agents-filter" value=${filter} onChange=${(e) => setFilter(e.target.value)}>
          <option value="">all</option>
          ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
        </select>
      </label>
      <span class="muted" data-testid="agents-count">${agents.length} agents · ${STATUSES.map((s) => `${counts[s] || 0} ${s}`).join(' · ')}</span>
    </div>
    ${error ? html`<p class="error" role="alert" data-testid="agents-error">${errText(error)}</p>` : null}
    ${admin
      ? html`<form class="toolbar" onSubmit=${bulk} aria-label="Bulk status change" data-testid="bulk-form">
          <span>${selected.size} selected</span>
          <label class="inline">Status
            <select data-testid="bulk-status" value=${bulkStatus} onChange=${(e) => setBulkStatus(e.target.value)}>
              ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
            </select></label>
          <label class="inline">Reason <input data-testid="bulk-reason" value=${bulkReason} onInput=${(e) => setBulkReason(e.target.value)} /></label>
          <button class="btn" type="submit" data-testid="bulk-apply" disabled=${!selected.size}>Apply to selected</button>
        </form>`
      : null}
    ${history ? html`<${History} agent=${history} onClose=${() => setHistory(null)} />` : null}
    ${loading && !agents.length ? html`<p class="muted">Loading…</p>` : null}
    <ul class="board" data-testid="agents-list">
      ${agents.map(
        (a) => html`<li key=${a.id} class=${`agent card status-${a.status}${a._pending ? ' pending' : ''}`} data-testid=${`agent-row-${a.id}`} data-status=${a.status} data-version=${a.version}>
          <div class="agent-head">
            ${admin
              ? html`<input type="checkbox" data-testid=${`agent-select-${a.id}`} aria-label=${`Select ${a.display_name}`} checked=${selected.has(a.id)} onChange=${() => toggle(a.id)} />`
              : null}
            <span class=${`dot dot-${a.status}`} aria-hidden="true"></span>
            <strong class="agent-name">${a.display_name || a.id}</strong>
          </div>
          <div class="agent-body">
            <label class="sr-only" for=${`agent-status-${a.id}`}>Status of ${a.display_name}</label>
            <select id=${`agent-status-${a.id}`} data-testid=${`agent-status-${a.id}`} value=${a.status} disabled=${!canEdit(a)} onChange=${(e) => updateStatus(a, e.target.value)}>
              ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
            </select>
            <span class="muted" title=${a.status_since ? fmtTime(a.status_since) : ''}>for ${fmtDuration(Date.now() - Date.parse(a.status_since || a.updated_at || ''))}</span>
          </div>
          ${a.reason ? html`<div class="muted reason" data-testid=${`agent-reason-${a.id}`}>${a.reason}</div>` : null}
          <button type="button" class="btn btn-small btn-link" data-testid=${`agent-history-${a.id}`} onClick=${() => setHistory(a)}>History</button>
        </li>`
      )}
    </ul>
    ${!loading && !agents.length && !error ? html`<p class="muted" data-testid="agents-empty">No agents.</p>` : null}
  </section>`;
}
