// Pure helpers for the dashboard: reading figures out of a metrics snapshot (a few accepted
// shapes), the rolling series of the last minutes that feeds the chart, and the chart's
// geometry (step lines in SVG user units). No DOM, no clock: callers pass `now`.

export const WINDOW_MS = 10 * 60 * 1000;
export const MAX_POINTS = 600;

// The first defined value among dotted paths ('agents.by_status').
export function pick(m, ...paths) {
  for (const p of paths) {
    let v = m;
    for (const k of p.split('.')) v = v == null ? undefined : v[k];
    if (v !== undefined && v !== null) return v;
  }
  return undefined;
}

// A figure as a number: plain numbers, or {total|count|active}.
export function num(v) {
  if (v == null) return 0;
  if (typeof v === 'object') return Number(v.total ?? v.count ?? v.active ?? 0) || 0;
  return Number(v) || 0;
}

export const agentsOf = (m) => pick(m || {}, 'agents_by_status', 'agents.by_status', 'agents') || {};
export const eventsPerMinOf = (m) => num(pick(m || {}, 'events_per_min', 'events_per_minute', 'events.per_min', 'events_min'));

// Names of the significant flags that are set: `significant` / `significant_changes` / `flags`
// as an object of booleans or an array of names. null when the snapshot carries none.
export function flagsOf(m) {
  const f = m && (m.significant || m.significant_changes || m.flags);
  if (!f) return null;
  return Array.isArray(f) ? f.map(String) : Object.keys(f).filter((k) => f[k]);
}

// One chart sample taken at time t (ms) from a snapshot.
export function pointOf(m, t) {
  const a = agentsOf(m);
  const flags = flagsOf(m) || [];
  return {
    t,
    online: num(a.online),
    busy: num(a.busy),
    away: num(a.away),
    epm: eventsPerMinOf(m),
    flags,
  };
}

// Appends p (kept in time order) and forgets what fell out of the window before `now`, except
// the newest such point: it says where the lines stand at the window's left edge.
export function appendPoint(series, p, now = p.t, windowMs = WINDOW_MS) {
  const out = series.slice();
  let i = out.length;
  while (i > 0 && out[i - 1].t > p.t) i--;
  out.splice(i, 0, p);
  const start = now - windowMs;
  let first = 0;
  while (first + 1 < out.length && out[first + 1].t <= start) first++;
  const kept = out.slice(first);
  return kept.length > MAX_POINTS ? kept.slice(kept.length - MAX_POINTS) : kept;
}

// The smallest "nice" bound >= v (1, 2, 5, 10, 20, 50, ...), at least 1.
export function niceMax(v) {
  if (!(v > 0)) return 1;
  let step = 1;
  for (;;) {
    for (const m of [1, 2, 5]) if (m * step >= v) return m * step;
    step *= 10;
  }
}

// Chart geometry for the series at `now` inside a w x h box with padding pad = {l, r, t, b}.
// Returns {points, agentMax, epmMax, lines: {online, busy, away, epm} (SVG path data of step
// lines running to now), flags: [{x, names}] (samples with a significant flag), x0, x1, y0, y1}.
export function chartGeometry(series, now, { w = 600, h = 160, pad = { l: 30, r: 34, t: 8, b: 18 }, windowMs = WINDOW_MS } = {}) {
  const x0 = pad.l;
  const x1 = w - pad.r;
  const y0 = h - pad.b;
  const y1 = pad.t;
  const start = now - windowMs;
  const pts = series.filter((p) => p.t <= now);
  let am = 0;
  let em = 0;
  for (const p of pts) {
    am = Math.max(am, p.online, p.busy, p.away);
    em = Math.max(em, p.epm);
  }
  const agentMax = niceMax(am);
  const epmMax = niceMax(em);
  const X = (t) => x0 + ((Math.max(t, start) - start) / windowMs) * (x1 - x0);
  const Y = (v, max) => y0 - (v / max) * (y0 - y1);
  const r = (n) => Math.round(n * 10) / 10;
  const line = (key, max) => {
    if (!pts.length) return '';
    let d = '';
    pts.forEach((p, i) => {
      const x = r(X(p.t));
      const y = r(Y(p[key], max));
      d += i === 0 ? `M${x} ${y}` : `H${x}V${y}`;
    });
    return `${d}H${r(X(now))}`;
  };
  const flags = pts.filter((p) => p.t >= start && p.flags && p.flags.length).map((p) => ({ x: r(X(p.t)), names: p.flags, t: p.t }));
  return {
    points: pts.filter((p) => p.t >= start).length,
    agentMax,
    epmMax,
    lines: { online: line('online', agentMax), busy: line('busy', agentMax), away: line('away', agentMax), epm: line('epm', epmMax) },
    flags,
    x0,
    x1,
    y0,
    y1,
  };
}

// Time ranges of the dashboard chart (the live series covers the last WINDOW_MS; older parts
// come from the server's history).
export const CHART_RANGES = [
  { id: '10m', label: 'last 10 minutes', ms: WINDOW_MS },
  { id: '1h', label: 'last hour', ms: 3600e3 },
  { id: '6h', label: 'last 6 hours', ms: 6 * 3600e3 },
  { id: '24h', label: 'last 24 hours', ms: 24 * 3600e3 },
];

// A chart sample from a GET /api/v1/dashboard/history point ({at, online, away, busy,
// critical_messages, events_per_minute, ...}); null when it has no usable time.
export function historyPoint(p) {
  const t = Date.parse(p && p.at);
  if (Number.isNaN(t)) return null;
  return {
    t,
    online: num(p.online),
    busy: num(p.busy),
    away: num(p.away),
    epm: num(p.events_per_minute ?? p.events_per_min),
    flags: num(p.critical_messages) > 0 ? ['critical_message_active'] : [],
  };
}

// The history points older than the first live sample, then the live samples (which are
// more precise for the time the page has been open).
export function mergeSeries(history, live) {
  if (!history || !history.length) return live;
  const cut = live.length ? live[0].t : Infinity;
  return history.filter((p) => p.t < cut).concat(live);
}
