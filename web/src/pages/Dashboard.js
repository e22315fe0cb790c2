// Dashboard: GET /api/v1/dashboard, then live broadcast "metrics" on channel "dashboard".
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, qs } from '../lib/api.js';
import { openChannel } from '../lib/realtime.js';
import { errText, isSuper, PRIORITIES, STATUSES, fmtTime } from '../lib/format.js';

// Accepts a few reasonable shapes for each figure.
function pick(m, ...paths) {
  for (const p of paths) {
    let v = m;
    for (const k of p.split('.')) v = v == null ? undefined : v[k];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

function num(v) {
  if (v == null) return 0;
  if (typeof v === 'object') return v.total ?? v.count ?? v.active ?? 0;
  return v;
}

export function Dashboard({ user }) {
  const [metrics, setMetrics] = useState(null);
  const [error, setError] = useState(null);
  const [clientId, setClientId] = useState('');
  const [clients, setClients] = useState([]);
  const [live, setLive] = useState('connecting');
  const [updatedAt, setUpdatedAt] = useState(null);
  const [flags, setFlags] = useState([]);

  useEffect(() => {
    if (!isSuper(user)) return;
    api('GET', '/api/v1/clients?limit=100')
      .then((b) => setClients(b.data || []))
      .catch(() => {});
  }, [user && user.id]);

  useEffect(() => {
    let alive = true;
    const load = () =>
      api('GET', `/api/v1/dashboard${qs({ client_id: clientId })}`)
        .then((m) => {
          if (!alive) return;
          setMetrics(m && m.data && !Array.isArray(m.data) ? m.data : m);
          setUpdatedAt(Date.now());
          setError(null);
        })
        .catch((e) => alive && setError(e));
    load();
    const config = clientId ? { dashboard: { client_id: clientId } } : {};
    const ch = openChannel(
      'dashboard',
      config,
      (c) =>
        c.on('broadcast', { event: 'metrics' }, (msg) => {
          const m = msg.payload || {};
          setMetrics((prev) => ({ ...(prev || {}), ...m }));
          setUpdatedAt(Date.now());
          const f = m.significant || m.significant_changes || m.flags;
          if (f) setFlags(Array.isArray(f) ? f : Object.keys(f).filter((k) => f[k]));
        }),
      (status) => {
        setLive(status);
        if (status === 'SUBSCRIBED') load();
      }
    );
    return () => {
      alive = false;
      ch.close();
    };
  }, [clientId]);

  const m = metrics || {};
  const agents = pick(m, 'agents_by_status', 'agents.by_status', 'agents') || {};
  const msgs = pick(m, 'messages_by_priority', 'active_messages_by_priority', 'messages.by_priority', 'active_messages.by_priority', 'messages.active_by_priority') || {};
  const activeMsgs = pick(m, 'active_messages.total', 'messages.active', 'active_messages');
  const users = pick(m, 'users.total', 'users', 'user_count');
  const conns = pick(m, 'connections.total', 'connections', 'realtime_connections');
  const epm = pick(m, 'events_per_min', 'events_per_minute', 'events.per_min', 'events_min');

  return html`<section aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title">Dashboard</h1>
      <span class="badge" data-testid="dash-live" data-state=${live}>${live === 'SUBSCRIBED' ? 'live' : live.toLowerCase()}</span>
      ${isSuper(user)
        ? html`<label class="inline">Client
            <select data-testid="dash-client" value=${clientId} onChange=${(e) => setClientId(e.target.value)}>
              <option value="">All / own</option>
              ${clients.map((c) => html`<option key=${c.id} value=${c.id}>${c.name}</option>`)}
            </select></label>`
        : null}
    </div>
    ${error ? html`<p class="error" role="alert" data-testid="dash-error">${errText(error)}</p>` : null}
    <div class="cards">
      <div class="card stat" data-testid="dash-agents">
        <h2>Agents by status</h2>
        <ul class="kv">
          ${STATUSES.map((s) => html`<li key=${s}><span class=${`pill pill-${s}`}>${s}</span><strong data-testid=${`dash-agents-${s}`}>${num(agents[s])}</strong></li>`)}
        </ul>
      </div>
      <div class="card stat" data-testid="dash-messages">
        <h2>Active messages${activeMsgs != null && typeof activeMsgs !== 'object' ? html` <small>(${activeMsgs})</small>` : null}</h2>
        <ul class="kv">
          ${PRIORITIES.map((p) => html`<li key=${p}><span class=${`pill prio-${p}`}>${p}</span><strong data-testid=${`dash-messages-${p}`}>${num(msgs[p])}</strong></li>`)}
        </ul>
      </div>
      <div class="card stat"><h2>Users</h2><p class="big" data-testid="dash-users">${num(users)}</p></div>
      <div class="card stat"><h2>Connections</h2><p class="big" data-testid="dash-connections">${num(conns)}</p></div>
      <div class="card stat"><h2>Events / min</h2><p class="big" data-testid="dash-events-per-min">${num(epm)}</p></div>
    </div>
    <p class="muted" data-testid="dash-updated-at">${updatedAt ? `Updated ${fmtTime(new Date(updatedAt).toISOString())}` : 'Loading…'}${flags.length ? ` · significant: ${flags.join(', ')}` : ''}</p>
  </section>`;
}
