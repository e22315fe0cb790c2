// Agents board: live status per agent with the time in status ticking every second, quick
// status change (optimistic), bulk change (picked cards, or every agent the filter finds), CSV
// import, and per agent a detail panel (its reason edited alone, statistics and status
// history); statistics per client below the board (GET /api/v1/agents/stats, re-fetched
// shortly after any agent change and every 30 s).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs } from '../lib/api.js';
import { useDebounced, useGridWindow, useNow, useRealtimeAgentStatus, useStats } from '../lib/hooks.js';
import { notify } from '../lib/notify.js';
import { AgentStatusControl } from '../components/AgentStatusControl.js';
import { CsvButton } from '../components/CsvButton.js';
import { CsvImport } from '../components/CsvImport.js';
import { ConnectionStatusIndicator } from '../components/ConnectionStatusIndicator.js';
import { Modal } from '../components/Modal.js';
import { canAdmin, errText, fmtDuration, fmtPercent, fmtTime, isSuper, STATUSES } from '../lib/format.js';

// Orders of the board (the API's `sort`).
export const SORTS = [
  { id: 'display_name', label: 'name A–Z' },
  { id: '-display_name', label: 'name Z–A' },
  { id: 'status', label: 'status' },
  { id: 'status_since', label: 'longest in status' },
  { id: '-status_since', label: 'latest change' },
  { id: 'reason', label: 'reason' },
];

// The bulk endpoint's limit for a filter (SVC_BULK_FILTER_MAX): one all-or-nothing change.
const BULK_FILTER_MAX = 10000;

export const RANGES = [
  { id: '1h', label: 'last hour', ms: 3600e3 },
  { id: '24h', label: 'last 24 hours', ms: 24 * 3600e3 },
  { id: '7d', label: 'last 7 days', ms: 7 * 24 * 3600e3 },
];

// "3m 12s in status", re-rendered every second by the shared clock.
function InStatus({ agent }) {
  const now = useNow(1000);
  const since = Date.parse(agent.status_since || agent.updated_at || '');
  const ms = Number.isNaN(since) ? null : Math.max(0, now - since);
  return html`<span class="muted since" data-testid=${`agent-since-${agent.id}`} data-seconds=${ms == null ? '' : Math.floor(ms / 1000)} title=${agent.status_since ? `since ${fmtTime(agent.status_since)}` : ''}>${ms == null ? '' : `${fmtDuration(ms)} in status`}</span>`;
}

// Time per status, uptime and occupancy of one stats entry (agent or client).
function StatsFigures({ st, testPrefix }) {
  const secs = (st && st.seconds) || {};
  return html`<dl class="stats-grid" data-testid=${testPrefix} data-uptime=${st && st.uptime != null ? st.uptime : ''} data-occupancy=${st && st.occupancy != null ? st.occupancy : ''} data-covered=${st ? st.covered_seconds : ''}>
    ${STATUSES.map(
      (s) => html`<div key=${s}><dt><span class=${`pill pill-${s}`}>${s}</span></dt><dd data-testid=${`${testPrefix}-${s}`} data-seconds=${secs[s] ?? 0}>${fmtDuration((secs[s] || 0) * 1000)}</dd></div>`
    )}
    <div><dt>Uptime</dt><dd data-testid=${`${testPrefix}-uptime`} title="(online + busy) / time covered">${fmtPercent(st && st.uptime)}</dd></div>
    <div><dt>Occupancy</dt><dd data-testid=${`${testPrefix}-occupancy`} title="busy / (online + busy)">${fmtPercent(st && st.occupancy)}</dd></div>
  </dl>`;
}

// The agent's reason alone, edited in the detail panel: PATCH with the same status and the new
// reason (empty: none), optimistic like a status change. The server changes only the reason
// (of the row and of its open history interval; no new interval). While the field is not being
// edited it follows the agent's live reason.
function ReasonEditor({ agent, onSave }) {
  const [v, setV] = useState(agent.reason || '');
  const [busy, setBusy] = useState(false);
  const dirty = useRef(false);
  useEffect(() => {
    if (!dirty.current) setV(agent.reason || '');
  }, [agent.reason]);
  const id = `agent-reason-input-${agent.id}`;
  async function submit(e) {
    e.preventDefault();
    const reason = v.trim() || null;
    setBusy(true);
    const row = await onSave(agent, agent.status, reason);
    setBusy(false);
    dirty.current = false;
    if (row) {
      setV(row.reason || '');
      notify({ kind: 'success', priority: 'low', title: reason ? 'Reason saved' : 'Reason cleared', body: agent.display_name || '' });
    }
  }
  const unchanged = (v.trim() || null) === (agent.reason || null);
  return html`<form class="form-inline" onSubmit=${submit} data-testid=${`agent-reason-form-${agent.id}`} aria-label=${`Reason of ${agent.display_name}`}>
    <label for=${id}>Reason (${agent.status})</label>
    <input id=${id} data-testid=${`agent-reason-input-${agent.id}`} maxlength="200" placeholder="none" value=${v} onInput=${(e) => {
      dirty.current = true;
      setV(e.target.value);
    }} onKeyDown=${(e) => {
      if (e.key === 'Escape' && dirty.current) {
        e.stopPropagation();
        dirty.current = false;
        setV(agent.reason || '');
      }
    }} />
    <button type="submit" class="btn btn-small btn-primary" data-testid=${`agent-reason-save-${agent.id}`} disabled=${busy || unchanged}>Save reason</button>
  </form>`;
}

function History({ agent, onClose, stats, rangeLabel, canEdit, onSaveReason }) {
  const [rows, setRows] = useState(null);
  const [err, setErr] = useState(null);
  const ref = useRef(null);
  useEffect(() => setRows(null), [agent.id]);
  // The panel opens above the board: move the focus there (and back to the button on Close).
  useEffect(() => {
    if (ref.current) ref.current.focus();
  }, [agent.id]);
  // Fetched again when the agent's row changes (a new status closes an interval).
  useEffect(() => {
    let alive = true;
    setErr(null);
    api('GET', `/api/v1/agents/${encodeURIComponent(agent.id)}/history${qs({})}`)
      .then((b) => alive && setRows(b.data || []))
      .catch((e) => alive && setErr(e));
    return () => {
      alive = false;
    };
  }, [agent.id, agent.version]);
  return html`<div class="card history" ref=${ref} tabindex="-1" data-testid=${`agent-history-panel-${agent.id}`} role="region" aria-label=${`Statistics and status history of ${agent.display_name}`} onKeyDown=${(e) => {
    if (e.key === 'Escape') onClose();
  }}>
    <div class="page-head"><h2>${agent.display_name}</h2><button type="button" class="btn btn-small" data-testid="history-close" aria-label=${`Close statistics and history of ${agent.display_name}`} onClick=${onClose}>Close</button></div>
    ${canEdit ? html`<${ReasonEditor} agent=${agent} onSave=${onSaveReason} />` : null}
    <h3>Statistics, ${rangeLabel}</h3>
    ${stats.error ? html`<p class="error" role="alert">${errText(stats.error)}</p>` : null}
    ${(() => {
      const st = stats.data && (stats.data.agents || []).find((x) => x.agent_id === agent.id);
      if (st) return html`<${StatsFigures} st=${st} testPrefix=${`agent-stats-${agent.id}`} />`;
      return stats.loading ? html`<p class="muted">Loading…</p>` : html`<p class="muted">No statistics.</p>`;
    })()}
    <h3>Status history</h3>
    ${err ? html`<p class="error" role="alert">${errText(err)}</p>` : null}
    ${rows === null && !err ? html`<p class="muted">Loading…</p>` : null}
    ${rows && rows.length === 0 ? html`<p class="muted">No history yet.</p>` : null}
    ${rows && rows.length
      ? html`<div class="table-wrap" tabindex="0" role="region" aria-label=${`Status history of ${agent.display_name}`}><table>
          <thead><tr><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Duration</th></tr></thead>
          <tbody>${rows.map(
            (h) => html`<tr key=${h.id}><td><span class=${`pill pill-${h.status}`}>${h.status}</span></td><td>${h.reason || ''}</td><td>${fmtTime(h.started_at)}</td><td>${h.ended_at ? fmtTime(h.ended_at) : 'now'}</td><td>${fmtDuration((h.ended_at ? Date.parse(h.ended_at) : Date.now()) - Date.parse(h.started_at))}</td></tr>`
          )}</tbody></table></div>`
      : null}
  </div>`;
}

export function Agents({ user }) {
  const [filter, setFilter] = useState('');
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState('display_name');
  const q = useDebounced(search.trim(), 300);
  const { agents, loading, loadingMore, error, updateStatus, apply, changeCount, total, counts, hasMore, loadMore } = useRealtimeAgentStatus({
    status: filter || undefined,
    q: q || undefined,
    sort,
  });
  const win = useGridWindow(agents.length, { overscan: 3, resetKey: `${filter}|${q}|${sort}` });
  // Near the end of what is loaded: fetch the next page (the scroll box grows under the user).
  useEffect(() => {
    if (hasMore && !loadingMore && !loading && win.lastRow >= win.rows - 4) loadMore();
  }, [hasMore, loadingMore, loading, win.lastRow, win.rows, changeCount]);
  const [range, setRange] = useState('24h');
  const rangeDef = RANGES.find((r) => r.id === range) || RANGES[1];
  const stats = useStats(() => `/api/v1/agents/stats${qs({ from: new Date(Date.now() - rangeDef.ms).toISOString() })}`, [range], changeCount);
  const [clientNames, setClientNames] = useState({});
  useEffect(() => {
    const names = (list) => setClientNames(Object.fromEntries(list.filter((c) => c && c.id).map((c) => [c.id, c.name])));
    if (isSuper(user)) {
      api('GET', '/api/v1/clients?limit=100')
        .then((b) => names(b.data || []))
        .catch(() => {});
    } else {
      api('GET', '/api/v1/me')
        .then((b) => names([b && b.client]))
        .catch(() => {});
    }
  }, [user && user.id]);
  const [selected, setSelected] = useState(new Set());
  const [bulkStatus, setBulkStatus] = useState('online');
  const [bulkReason, setBulkReason] = useState('');
  const [history, setHistory] = useState(null);
  const lastHistory = useRef(null);
  useEffect(() => {
    if (history) lastHistory.current = history.id;
    else if (lastHistory.current != null) {
      const btn = document.querySelector(`[data-testid="agent-history-${CSS.escape(String(lastHistory.current))}"]`);
      lastHistory.current = null;
      if (btn) btn.focus();
    }
  }, [history && history.id]);
  const admin = canAdmin(user);
  const canEdit = (a) => admin || (user.role === 'agent' && a.user_id === user.id);

  function toggle(id) {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  }

  // More than one agent: the first click asks to confirm with the count, the second applies.
  const [confirmBulk, setConfirmBulk] = useState(false);
  useEffect(() => setConfirmBulk(false), [selected, bulkStatus]);
  // "Select all N matching": the selection is the filter itself (status and search as the
  // board shows them), applied on the server to every agent it finds, not only the cards
  // loaded. A new search or filter ends it.
  const [allMatching, setAllMatching] = useState(null);
  useEffect(() => setAllMatching(null), [filter, q]);
  // The confirmation of a change by filter: {count (the server's, fetched when it opens),
  // changed (the set moved since), error, busy}.
  const [dialog, setDialog] = useState(null);
  const selCount = allMatching ? (typeof total === 'number' && !loading ? total : 0) : selected.size;

  async function bulk(e) {
    e.preventDefault();
    if (allMatching) return openBulkDialog();
    if (!selected.size) return;
    if (selected.size > 1 && !confirmBulk) {
      setConfirmBulk(true);
      return;
    }
    setConfirmBulk(false);
    try {
      const r = await api('POST', '/api/v1/agents/bulk-status', { body: { ids: [...selected], status: bulkStatus, reason: bulkReason.trim() || null } });
      for (const row of (r && r.data) || []) if (row && row.id) apply(row);
      notify({ kind: 'success', priority: 'low', title: `Status set to ${bulkStatus}`, body: `${selected.size} agent(s)` });
      setSelected(new Set());
    } catch (err) {
      notify({ kind: 'error', title: 'Bulk change failed', body: errText(err) });
    }
  }

  function selectAll() {
    setSelected(new Set());
    setAllMatching({ status: filter || undefined, q: q || undefined });
  }
  function clearSelection() {
    setSelected(new Set());
    setAllMatching(null);
  }

  // Asks the server how many agents the filter finds now: that count is what the dialog states
  // and what the change is confirmed for (expected_count).
  async function openBulkDialog() {
    setDialog({ count: null, busy: true, error: null, changed: false });
    try {
      const b = await api('GET', `/api/v1/agents${qs({ ...allMatching, limit: 1 })}`);
      setDialog({ count: b.total, busy: false, error: null, changed: false });
    } catch (err) {
      setDialog({ count: null, busy: false, error: err, changed: false });
    }
  }

  async function applyAll() {
    const count = dialog.count;
    setDialog({ ...dialog, busy: true, error: null });
    try {
      const r = await api('POST', '/api/v1/agents/bulk-status', {
        body: { filter: { ...allMatching }, expected_count: count, status: bulkStatus, reason: bulkReason.trim() || null },
      });
      setDialog(null);
      clearSelection();
      notify({ kind: 'success', priority: 'low', title: `Status set to ${bulkStatus}`, body: `${r.updated} agent${r.updated === 1 ? '' : 's'}` });
    } catch (err) {
      // The set moved since it was counted: the dialog states the new count, to confirm again.
      if (err.status === 409 && err.current && typeof err.current.count === 'number') setDialog({ count: err.current.count, busy: false, error: null, changed: true });
      else setDialog({ ...dialog, busy: false, error: err });
    }
  }

  const known = typeof total === 'number' && !loading;
  const countText = known
    ? `${total} agent${total === 1 ? '' : 's'} · ${STATUSES.map((st) => `${(counts && counts[st]) || 0} ${st}`).join(' · ')}`
    : 'Loading agents…';

  return html`<section aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title">Agents</h1>
      <label class="inline">Search
        <input type="search" data-testid="agents-search" value=${search} placeholder="name, e-mail or reason" autocomplete="off" onInput=${(e) => setSearch(e.target.value)} />
      </label>
      <label class="inline">Show
        <select data-testid="agents-filter" value=${filter} onChange=${(e) => setFilter(e.target.value)}>
          <option value="">all</option>
          ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
        </select>
      </label>
      <label class="inline">Sort by
        <select data-testid="agents-sort" value=${sort} onChange=${(e) => setSort(e.target.value)}>
          ${SORTS.map((o) => html`<option key=${o.id} value=${o.id}>${o.label}</option>`)}
        </select>
      </label>
      <${ConnectionStatusIndicator} size="sm" prefix="conn-board" />
      <span class="muted" data-testid="agents-count" role="status" data-total=${known ? total : ''} data-loaded=${agents.length} data-online=${known ? (counts && counts.online) || 0 : ''}>${countText}</span>
      <${CsvButton} path=${`/api/v1/agents${qs({ status: filter || undefined, q: q || undefined, sort })}`} testid="agents-csv" what="agents" />
      ${admin ? html`<${CsvImport} testid="agents-import" what="agents" defaultRole="agent" canPickClient=${isSuper(user)} />` : null}
    </div>
    ${error ? html`<p class="error" role="alert" data-testid="agents-error">${errText(error)}</p>` : null}
    ${admin
      ? html`<form class="toolbar" onSubmit=${bulk} aria-label="Bulk status change" data-testid="bulk-form">
          <span data-testid="bulk-selected" data-count=${selCount} data-all=${allMatching ? 'true' : 'false'}>${allMatching ? `All ${selCount} matching selected` : `${selCount} selected`}</span>
          <button type="button" class="btn btn-small" data-testid="bulk-select-all" disabled=${!known || !total || !!allMatching || total > BULK_FILTER_MAX} title=${known && total > BULK_FILTER_MAX ? `At most ${BULK_FILTER_MAX} at once: narrow the search or filter` : ''} onClick=${selectAll}>${`Select all ${known ? total : ''} matching`}</button>
          ${selCount || allMatching ? html`<button type="button" class="btn btn-small" data-testid="bulk-clear" onClick=${clearSelection}>Clear</button>` : null}
          <label class="inline">Status
            <select data-testid="bulk-status" value=${bulkStatus} onChange=${(e) => setBulkStatus(e.target.value)}>
              ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
            </select></label>
          <label class="inline">Reason <input data-testid="bulk-reason" value=${bulkReason} onInput=${(e) => setBulkReason(e.target.value)} /></label>
          <button class=${`btn${confirmBulk ? ' btn-danger' : ''}`} type="submit" data-testid="bulk-apply" data-confirm=${confirmBulk ? 'true' : 'false'} disabled=${!selCount}>${confirmBulk ? `Confirm: set ${selected.size} agents to ${bulkStatus}` : 'Apply to selected'}</button>
        </form>
        <${Modal} open=${!!dialog} title="Change the status of every matching agent" testid="bulk-confirm-dialog" onClose=${() => !(dialog && dialog.busy && dialog.count != null) && setDialog(null)}>
          ${dialog
            ? html`<div>
                ${dialog.changed ? html`<p class="error" role="alert" data-testid="bulk-confirm-changed">The agents matching changed since they were counted.</p>` : null}
                ${dialog.count == null && !dialog.error ? html`<p class="muted">Counting…</p>` : null}
                ${dialog.count != null
                  ? html`<p data-testid="bulk-confirm-count" data-count=${dialog.count}>Set <strong>${dialog.count} agent${dialog.count === 1 ? '' : 's'}</strong> to <strong>${bulkStatus}</strong>${bulkReason.trim() ? html` with the reason “${bulkReason.trim()}”` : ' (their reasons cleared)'}?</p>
                      <p class="muted small">Every agent ${allMatching && (allMatching.status || allMatching.q) ? `that is ${[allMatching.status ? allMatching.status : '', allMatching.q ? `found by “${allMatching.q}”` : ''].filter(Boolean).join(' and ')}` : 'of the board'}, not only the cards loaded. One change: all or nothing.</p>`
                  : null}
                ${dialog.error ? html`<p class="error" role="alert" data-testid="bulk-confirm-error">${errText(dialog.error)}</p>` : null}
                <div class="row-actions">
                  <button type="button" class="btn btn-danger" data-testid="bulk-confirm-apply" disabled=${dialog.busy || dialog.count == null || dialog.count === 0} onClick=${applyAll}>${dialog.busy && dialog.count != null ? 'Applying…' : `Set ${dialog.count ?? ''} agents to ${bulkStatus}`}</button>
                  <button type="button" class="btn" data-autofocus data-testid="bulk-confirm-cancel" disabled=${dialog.busy && dialog.count != null} onClick=${() => setDialog(null)}>Cancel</button>
                </div>
              </div>`
            : null}
        <//>`
      : null}
    ${history
      ? (() => {
          const ha = agents.find((a) => a.id === history.id) || history;
          return html`<${History} agent=${ha} stats=${stats} rangeLabel=${rangeDef.label} canEdit=${canEdit(ha)} onSaveReason=${updateStatus} onClose=${() => setHistory(null)} />`;
        })()
      : null}
    ${loading && !agents.length ? html`<p class="muted">Loading…</p>` : null}
    <div class="board-scroll" ref=${win.scrollRef} tabindex="0" role="region" aria-label=${`Agents board, ${known ? `${agents.length} of ${total} loaded` : 'loading'} (scrolls)`} data-testid="agents-scroll">
      <ul class="board" ref=${win.listRef} data-testid="agents-list" data-start=${win.start} data-end=${win.end}>
        ${agents.slice(win.start, win.end).map(
          (a, i) => html`<li key=${a.id} aria-setsize=${known ? total : -1} aria-posinset=${win.start + i + 1} class=${`agent card status-${a.status}${a._pending ? ' pending' : ''}`} data-testid=${`agent-row-${a.id}`} data-status=${a.status} data-version=${a.version}>
            <div class="agent-head">
              ${admin
                ? html`<input type="checkbox" data-testid=${`agent-select-${a.id}`} aria-label=${`Select ${a.display_name}`} checked=${!!allMatching || selected.has(a.id)} disabled=${!!allMatching} onChange=${() => toggle(a.id)} />`
                : null}
              <span class=${`dot dot-${a.status}`} aria-hidden="true"></span>
              <strong class="agent-name" title=${a.display_name || a.id}>${a.display_name || a.id}</strong>
            </div>
            <${AgentStatusControl} agent=${a} canEdit=${canEdit(a)} onChange=${updateStatus}><${InStatus} agent=${a} /><//>
            <div class="muted reason" data-testid=${a.reason ? `agent-reason-${a.id}` : undefined} title=${a.reason || ''}>${a.reason || ''}</div>
            <button type="button" class="btn btn-small btn-link" data-testid=${`agent-history-${a.id}`} aria-expanded=${history && history.id === a.id ? 'true' : 'false'} aria-label=${`Statistics & history of ${a.display_name || a.id}`} onClick=${() => setHistory(a)}>Statistics & history</button>
          </li>`
        )}
      </ul>
      ${loadingMore ? html`<p class="muted" data-testid="agents-loading-more">Loading more agents…</p>` : null}
    </div>
    ${!loading && !agents.length && !error ? html`<p class="muted" data-testid="agents-empty">${q ? `No agents match “${q}”.` : 'No agents.'}</p>` : null}
    <section class="card" data-testid="agents-stats" aria-labelledby="stats-title" data-at=${stats.at || ''}>
      <div class="page-head">
        <h2 id="stats-title">Statistics per client</h2>
        <label class="inline">Period
          <select data-testid="agents-stats-range" value=${range} onChange=${(e) => setRange(e.target.value)}>
            ${RANGES.map((r) => html`<option key=${r.id} value=${r.id}>${r.label}</option>`)}
          </select></label>
        <button type="button" class="btn btn-small" data-testid="agents-stats-refresh" onClick=${() => stats.reload()}>Refresh</button>
        <span class="muted small">${stats.at ? `as of ${fmtTime(new Date(stats.at).toISOString())}` : ''}</span>
      </div>
      ${stats.error ? html`<p class="error" role="alert" data-testid="agents-stats-error">${errText(stats.error)}</p>` : null}
      ${stats.data
        ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Statistics per client (table)"><table>
            <thead><tr><th scope="col">Client</th><th scope="col" class="num">Agents</th>${STATUSES.map((st) => html`<th key=${st} scope="col" class="num">${st}</th>`)}<th scope="col" class="num">Uptime</th><th scope="col" class="num">Occupancy</th></tr></thead>
            <tbody>${(stats.data.clients || []).map(
              (c) => html`<tr key=${c.client_id} data-testid=${`client-stats-${c.client_id}`} data-agents=${c.agents} data-uptime=${c.uptime ?? ''} data-occupancy=${c.occupancy ?? ''}>
                <th scope="row">${clientNames[c.client_id] || (c.client_id === user.client_id ? 'Your organisation' : String(c.client_id).slice(0, 8))}</th>
                <td class="num">${c.agents}</td>
                ${STATUSES.map((st) => html`<td key=${st} class="num" data-testid=${`client-stats-${c.client_id}-${st}`} data-seconds=${(c.seconds || {})[st] ?? 0}>${fmtDuration(((c.seconds || {})[st] || 0) * 1000)}</td>`)}
                <td class="num" data-testid=${`client-stats-${c.client_id}-uptime`}>${fmtPercent(c.uptime)}</td>
                <td class="num" data-testid=${`client-stats-${c.client_id}-occupancy`}>${fmtPercent(c.occupancy)}</td>
              </tr>`
            )}</tbody></table></div>
            <p class="muted small">Uptime = (online + busy) / time covered; occupancy = busy / (online + busy); "—" when nothing to divide by.</p>`
        : stats.loading
          ? html`<p class="muted">Loading…</p>`
          : null}
    </section>
  </section>`;
}
