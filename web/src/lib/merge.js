// Pure list-merging rules shared by every live list (no DOM, no network; unit-tested in
// web/test/merge.test.mjs).
//
// A list is an array of rows keyed by `id`. Rows carry an integer `version` that grows by one
// on every update. A change event {eventType, new, old} is applied so that nothing is shown
// twice (upsert by id) or out of order (an event whose version is lower than the row we hold
// is ignored). A DELETE removes the row whatever its version.

export function rowKey(row) {
  return row && row.id != null ? String(row.id) : null;
}

function versionOf(row) {
  const v = row && row.version;
  return typeof v === 'number' ? v : v != null && v !== '' ? Number(v) : null;
}

// True when `incoming` must not replace `current` (it is older).
export function isStale(current, incoming) {
  const a = versionOf(current);
  const b = versionOf(incoming);
  return a != null && b != null && b < a;
}

// Applies one postgres_changes payload (realtime-js shape) to rows; returns a new array (or the
// same array when nothing changed). `match(row)` decides whether a row belongs to this list
// (filters); a row that stops matching is removed.
export function applyChange(rows, ev, match) {
  const type = String(ev.eventType || ev.type || '').toUpperCase();
  if (type === 'DELETE') {
    const k = rowKey(ev.old) || rowKey(ev.new);
    if (!k) return rows;
    const i = rows.findIndex((r) => rowKey(r) === k);
    if (i < 0) return rows;
    return rows.slice(0, i).concat(rows.slice(i + 1));
  }
  const rec = ev.new;
  const k = rowKey(rec);
  if (!k) return rows;
  const i = rows.findIndex((r) => rowKey(r) === k);
  if (i >= 0 && isStale(rows[i], rec)) return rows;
  const keep = match ? match(rec) : true;
  if (i < 0) return keep ? rows.concat([rec]) : rows;
  const out = rows.slice();
  if (keep) out[i] = { ...rows[i], ...rec };
  else out.splice(i, 1);
  return out;
}

export function applyChanges(rows, evs, match) {
  let out = rows;
  for (const ev of evs) out = applyChange(out, ev, match);
  return out;
}

// Merges a row returned by the server (e.g. a PATCH response) into rows, version-checked.
export function upsertRow(rows, row, match) {
  return applyChange(rows, { eventType: 'UPDATE', new: row }, match);
}

// A snapshot (GET) taken while events kept arriving: start from the snapshot, then replay the
// events received since the request started, version-checked, so the result is the newest of
// both and a delete seen during the request stays deleted.
export function mergeSnapshot(snapshot, eventsSinceStart, match) {
  const seen = new Set();
  const rows = [];
  for (const r of snapshot) {
    const k = rowKey(r);
    if (k && seen.has(k)) continue;
    if (k) seen.add(k);
    rows.push(r);
  }
  return applyChanges(rows, eventsSinceStart, match);
}

// Overlays optimistic edits (id -> partial row) on rows for display.
export function withOverlay(rows, overlay) {
  if (!overlay || overlay.size === 0) return rows;
  return rows.map((r) => {
    const o = overlay.get(rowKey(r));
    return o ? { ...r, ...o, _pending: true } : r;
  });
}

// Throttling + deduplication for notifications: feed events, get back what to show.
// Events with the same key inside `dedupMs` are dropped; when more than `burst` events arrive
// within one window the caller shows one summary instead.
export function createThrottle({ windowMs = 1000, burst = 3, dedupMs = 10000, now = () => Date.now() } = {}) {
  const seen = new Map();
  let pending = [];
  return {
    push(item) {
      const t = now();
      for (const [k, at] of seen) if (t - at > dedupMs) seen.delete(k);
      if (item.key && seen.has(item.key)) return false;
      if (item.key) seen.set(item.key, t);
      pending.push(item);
      return true;
    },
    // Returns {items} (show each) or {summary: {count, items}} and clears the window.
    flush() {
      const items = pending;
      pending = [];
      if (items.length === 0) return { items: [] };
      if (items.length > burst) return { items: [], summary: { count: items.length, items } };
      return { items };
    },
    get size() {
      return pending.length;
    },
    windowMs,
  };
}

// The order the list API returns for `sort` ("col" or "-col"): by the column, then by id, in
// the same direction; nulls first ascending and last descending; text compared by code unit
// (the SQLite backend's binary collation). A live row is placed where the server would put it.
export function serverOrder(spec) {
  const desc = String(spec || '').startsWith('-');
  const col = desc ? spec.slice(1) : spec || 'id';
  const cmp = (x, y) => {
    if (x == null || y == null) return x == null ? (y == null ? 0 : -1) : 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const a = String(x);
    const b = String(y);
    return a < b ? -1 : a > b ? 1 : 0;
  };
  return (r1, r2) => {
    const c = cmp(r1[col], r2[col]) || cmp(r1.id, r2.id);
    return desc ? -c : c;
  };
}
