// Agents board: live status per agent with the time in status ticking every second, quick
// status change (optimistic), bulk change, and per agent a detail panel (statistics and status
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

// The bulk endpoint's limit (SVC_BULK_MAX): one all-or-nothing change of at most this many.
const BULK_MAX = 500;

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

function History({ agent, onClose, stats, rangeLabel }) {
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
  const [selectingAll, setSelectingAll] = useState(false);

  async function bulk(e) {
    e.preventDefault();
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

  // Every agent matching the search and filter (not only the cards loaded): their ids from the
  // server, up to the bulk limit (one all-or-nothing request).
  async function selectAll() {
    setSelectingAll(true);
    try {
      const b = await api('GET', `/api/v1/agents${qs({ status: filter || undefined, q: q || undefined, limit: BULK_MAX })}`);
      setSelected(new Set(((b && b.data) || []).map((a) => a.id)));
    } catch (err) {
      notify({ kind: 'error', title: 'Could not select the agents', body: errText(err) });
    } finally {
      setSelectingAll(false);
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
          <span data-testid="bulk-selected" data-count=${selected.size}>${selected.size} selected</span>
          <button type="button" class="btn btn-small" data-testid="bulk-select-all" disabled=${!known || !total || total > BULK_MAX || selectingAll} title=${known && total > BULK_MAX ? `At most ${BULK_MAX} at once: narrow the search or filter` : ''} onClick=${selectAll}>${known && total > BULK_MAX ? `Select all (≤ ${BULK_MAX}; ${total} match)` : `Select all ${known ? total : ''} matching`}</button>
          ${selected.size ? html`<button type="button" class="btn btn-small" data-testid="bulk-clear" onClick=${() => setSelected(new Set())}>Clear</button>` : null}
          <label class="inline">Status
            <select data-testid="bulk-status" value=${bulkStatus} onChange=${(e) => setBulkStatus(e.target.value)}>
              ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
            </select></label>
          <label class="inline">Reason <input data-testid="bulk-reason" value=${bulkReason} onInput=${(e) => setBulkReason(e.target.value)} /></label>
          <button class=${`btn${confirmBulk ? ' btn-danger' : ''}`} type="submit" data-testid="bulk-apply" data-confirm=${confirmBulk ? 'true' : 'false'} disabled=${!selected.size}>${confirmBulk ? `Confirm: set ${selected.size} agents to ${bulkStatus}` : 'Apply to selected'}</button>
        </form>`
      : null}
    ${history ? html`<${History} agent=${agents.find((a) => a.id === history.id) || history} stats=${stats} rangeLabel=${rangeDef.label} onClose=${() => setHistory(null)} />` : null}
    ${loading && !agents.length ? html`<p class="muted">Loading…</p>` : null}
    <div class="board-scroll" ref=${win.scrollRef} tabindex="0" role="region" aria-label=${`Agents board, ${known ? `${agents.length} of ${total} loaded` : 'loading'} (scrolls)`} data-testid="agents-scroll">
      <ul class="board" ref=${win.listRef} data-testid="agents-list" data-start=${win.start} data-end=${win.end}>
        ${agents.slice(win.start, win.end).map(
          (a, i) => html`<li key=${a.id} aria-setsize=${known ? total : -1} aria-posinset=${win.start + i + 1} class=${`agent card status-${a.status}${a._pending ? ' pending' : ''}`} data-testid=${`agent-row-${a.id}`} data-status=${a.status} data-version=${a.version}>
            <div class="agent-head">
              ${admin
                ? html`<input type="checkbox" data-testid=${`agent-select-${a.id}`} aria-label=${`Select ${a.display_name}`} checked=${selected.has(a.id)} onChange=${() => toggle(a.id)} />`
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
