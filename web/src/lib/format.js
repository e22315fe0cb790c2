// Small display helpers.
export function fmtTime(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return String(s);
  return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtDuration(ms) {
  if (ms == null || Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

export function errText(err) {
  if (!err) return '';
  if (err.details && err.details.length) return `${err.message} (${err.details.map((d) => `${d.field}: ${d.issue}`).join(', ')})`;
  return err.message || String(err);
}

// Converts a datetime-local input value (to the second: the inputs use step=1) to RFC 3339
// UTC, or null when empty.
export function localToISO(v) {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// The value to send for a datetime-local field opened on `original` (RFC 3339 from the
// server): the original string itself while the field still shows it (the input has no
// milliseconds, so converting back would change "…:05.123Z" to "…:05.000Z"), else the field's
// new value in UTC (null when emptied).
export function localToISOKeeping(v, original) {
  if (original && v === isoToLocal(original)) return original;
  return localToISO(v);
}

export function isoToLocal(s) {
  if (!s) return '';
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export const STATUSES = ['online', 'away', 'busy', 'offline'];
export const PRIORITIES = ['low', 'normal', 'high', 'critical'];
export const ROLES = ['super_admin', 'admin', 'agent', 'viewer'];

export function canAdmin(user) {
  return !!user && (user.role === 'admin' || user.role === 'super_admin');
}
export function isSuper(user) {
  return !!user && user.role === 'super_admin';
}

// A ratio (0..1) as "87.5 %"; "—" for null (nothing to divide by).
export function fmtPercent(v) {
  if (v == null || Number.isNaN(Number(v))) return '—';
  return `${(Math.round(Number(v) * 1000) / 10).toFixed(1)} %`;
}
