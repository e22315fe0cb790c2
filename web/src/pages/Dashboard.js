// Dashboard: live figures (GET /api/v1/dashboard, then the `metrics` broadcasts on channel
// "dashboard", through useRealtimeDashboardMetrics), a small SVG chart (agents online / busy /
// away, events per minute) over a chosen range (10 min to 24 h): the server's recorded history
// (GET /api/v1/dashboard/history, loaded on open) followed by the live samples; and the
// significant-change flags highlighted on the cards, in a banner and on the chart.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { useDashboardHistory, useNow, useRealtimeDashboardMetrics } from '../lib/hooks.js';
import { errText, isSuper, PRIORITIES, STATUSES, fmtTime } from '../lib/format.js';
import { agentsOf, CHART_RANGES, chartGeometry, mergeSeries, num, pick, WINDOW_MS } from '../lib/series.js';

const FLAG_TEXT = {
  online_agents_drop: { on: 'Online agents dropped by 20% or more within a minute', off: 'Online agents steady' },
  critical_message_active: { on: 'A critical system message is active', off: 'No critical message' },
};
const flagText = (f, on = true) => (FLAG_TEXT[f] ? FLAG_TEXT[f][on ? 'on' : 'off'] : `${f.replace(/_/g, ' ')}${on ? '' : ': no'}`);

const SERIES = [
  { key: 'online', label: 'online' },
  { key: 'busy', label: 'busy' },
  { key: 'away', label: 'away' },
  { key: 'epm', label: 'events/min' },
];

const spanShort = (ms) => (ms >= 3600e3 ? `${ms / 3600e3} h` : `${ms / 60000} min`);
const spanText = (ms) => (ms >= 3600e3 ? `${ms / 3600e3} hour${ms === 3600e3 ? '' : 's'}` : `${ms / 60000} minutes`);

// Step lines of the last windowMs; left axis agents, right axis events per minute. Scrolls
// every 5 s. Only SVG attributes and classes (the CSP allows no style attributes). `controls`
// go in the caption (the range picker).
export function MetricsChart({ series, windowMs = WINDOW_MS, title, controls }) {
  const now = useNow(5000);
  const W = 600;
  const H = 170;
  const g = chartGeometry(series, Math.max(now, series.length ? series[series.length - 1].t : 0), { w: W, h: H, pad: { l: 42, r: 42, t: 10, b: 24 }, windowMs });
  const last = series.length ? series[series.length - 1] : null;
  const heading = title || `Last ${spanText(windowMs)}`;
  const desc = last
    ? `${heading}. Now: ${last.online} online, ${last.busy} busy, ${last.away} away, ${last.epm} events per minute.`
    : 'No data yet.';
  return html`<figure class="card chart" data-testid="dash-chart" data-points=${g.points} data-window=${windowMs}>
    <figcaption class="chart-head">
      <h2>${heading}</h2>
      ${controls || null}
      <ul class="legend" aria-hidden="true">
        ${SERIES.map((s) => html`<li key=${s.key}><svg width="18" height="8" class="legend-key"><line x1="0" y1="4" x2="18" y2="4" class=${`ln ln-${s.key}`} /></svg>${s.label}</li>`)}
      </ul>
    </figcaption>
    <svg class="chart-svg" viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${desc} data-testid="dash-chart-svg">
      <title>${desc}</title>
      ${[0, 0.5, 1].map((f) => {
        const y = g.y0 - f * (g.y0 - g.y1);
        return html`<g key=${f}>
          <line class="grid" x1=${g.x0} x2=${g.x1} y1=${y} y2=${y} />
          <text class="axis" x=${g.x0 - 4} y=${y + 4} text-anchor="end">${Math.round(g.agentMax * f * 10) / 10}</text>
          <text class="axis axis-epm" x=${g.x1 + 4} y=${y + 4} text-anchor="start">${Math.round(g.epmMax * f * 10) / 10}</text>
        </g>`;
      })}
      <text class="axis" x=${g.x0} y=${H - 2} text-anchor="start">-${spanShort(windowMs)}</text>
      <text class="axis" x=${g.x1} y=${H - 2} text-anchor="end">now</text>
      ${g.flags.map(
        (f) => html`<line key=${`f${f.t}`} class="flag-mark" x1=${f.x} x2=${f.x} y1=${g.y1} y2=${g.y0} data-testid="dash-chart-flag" data-flags=${f.names.join(' ')}><title>${f.names.map(flagText).join('; ')}</title></line>`
      )}
      ${SERIES.map((s) => (g.lines[s.key] ? html`<path key=${s.key} class=${`ln ln-${s.key}`} d=${g.lines[s.key]} data-testid=${`dash-chart-${s.key}`} />` : null))}
    </svg>
  </figure>`;
}

export function Dashboard({ user }) {
  const [clientId, setClientId] = useState('');
  const [clients, setClients] = useState([]);
  const { metrics, series, flags, updatedAt, live, error } = useRealtimeDashboardMetrics({ clientId });
  const [range, setRange] = useState('10m');
  const rangeDef = CHART_RANGES.find((r) => r.id === range) || CHART_RANGES[0];
  const hist = useDashboardHistory({ clientId, rangeMs: rangeDef.ms });
  const chartSeries = mergeSeries(hist.points, series);

  useEffect(() => {
    if (!isSuper(user)) return;
    api('GET', '/api/v1/clients?limit=100')
      .then((b) => setClients(b.data || []))
      .catch(() => {});
  }, [user && user.id]);

  const m = metrics || {};
  const agents = agentsOf(m);
  const flagOn = (f) => flags.includes(f);
  const msgs = pick(m, 'messages_by_priority', 'active_messages_by_priority', 'messages.by_priority', 'active_messages.by_priority', 'messages.active_by_priority') || {};
  const activeMsgs = pick(m, 'active_messages.total', 'messages.active', 'active_messages');
  const users = pick(m, 'users.total', 'users', 'user_count');
  const conns = pick(m, 'connections.total', 'connections', 'realtime_connections');
  const epm = pick(m, 'events_per_min', 'events_per_minute', 'events.per_min', 'events_min');
  const known = Object.keys(FLAG_TEXT);
  const allFlags = [...known, ...flags.filter((f) => !known.includes(f))];

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
    <ul class="flags" data-testid="dash-significant" data-active=${flags.join(' ')} aria-label="Significant changes" aria-live="polite">
      ${allFlags.map(
        (f) => html`<li key=${f} class=${`flag${flagOn(f) ? ' flag-on' : ''}`} data-testid=${`dash-flag-${f}`} data-active=${flagOn(f) ? 'true' : 'false'}>
          <span aria-hidden="true">${flagOn(f) ? '⚠' : '✓'}</span> ${flagText(f, flagOn(f))}
        </li>`
      )}
    </ul>
    <div class="cards">
      <div class=${`card stat${flagOn('online_agents_drop') ? ' significant' : ''}`} data-testid="dash-agents">
        <h2>Agents by status</h2>
        <ul class="kv">
          ${STATUSES.map((s) => html`<li key=${s}><span class=${`pill pill-${s}`}>${s}</span><strong data-testid=${`dash-agents-${s}`}>${num(agents[s])}</strong></li>`)}
        </ul>
      </div>
      <div class=${`card stat${flagOn('critical_message_active') ? ' significant' : ''}`} data-testid="dash-messages">
        <h2>Active messages${activeMsgs != null && typeof activeMsgs !== 'object' ? html` <small>(${activeMsgs})</small>` : null}</h2>
        <ul class="kv">
          ${PRIORITIES.map((p) => html`<li key=${p}><span class=${`pill prio-${p}`}>${p}</span><strong data-testid=${`dash-messages-${p}`}>${num(msgs[p])}</strong></li>`)}
        </ul>
      </div>
      <div class="card stat"><h2>Users</h2><p class="big" data-testid="dash-users">${num(users)}</p></div>
      <div class="card stat"><h2>Connections</h2><p class="big" data-testid="dash-connections">${num(conns)}</p></div>
      <div class="card stat"><h2>Events / min</h2><p class="big" data-testid="dash-events-per-min">${num(epm)}</p></div>
    </div>
    <${MetricsChart}
      series=${chartSeries}
      windowMs=${rangeDef.ms}
      controls=${html`<label class="inline">Range
          <select data-testid="dash-range" value=${range} onChange=${(e) => setRange(e.target.value)}>
            ${CHART_RANGES.map((r) => html`<option key=${r.id} value=${r.id}>${r.label}</option>`)}
          </select></label>
        <span class="muted small" data-testid="dash-history" data-state=${hist.state} data-points=${hist.points.length} data-range=${range}>${hist.state === 'loaded' ? `${hist.points.length} recorded points` : hist.state === 'loading' ? 'loading history…' : 'history unavailable'}</span>`} />
    <p class="muted" data-testid="dash-updated-at">${updatedAt ? `Updated ${fmtTime(new Date(updatedAt).toISOString())}` : 'Loading…'}${flags.length ? ` · significant: ${flags.join(', ')}` : ''}</p>
  </section>`;
}
