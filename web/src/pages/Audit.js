// Audit viewer: filtered, paged, live (new entries appear at the top); "Verify chain" calls
// GET /api/v1/audit/verify.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, qs } from '../lib/api.js';
import { CsvButton } from '../components/CsvButton.js';
import { useLiveList } from '../lib/hooks.js';
import { canAdmin, errText, fmtTime } from '../lib/format.js';

// Actions the server writes (the field also takes any other text).
const ACTIONS = [
  'auth.login', 'auth.login_failed', 'auth.logout', 'auth.logout_all', 'auth.refresh', 'auth.refresh_reuse',
  'client.create', 'client.update', 'client.delete', 'user.create', 'user.update', 'user.update_password', 'user.delete',
  'agent_status.create', 'agent_status.update', 'agent_status.delete',
  'message.create', 'message.update', 'message.delete', 'message.activate', 'message.expire',
];

const bySeqDesc = (a, b) => (Number(b.seq) || 0) - (Number(a.seq) || 0) || String(b.at || '').localeCompare(String(a.at || ''));

// A JSON value; the box scrolls (max-height), so it is focusable for keyboard scrolling.
// "N entries · M shown"; where the server stopped counting (a large log) "10,000+ entries".
function countText(total, capped, shown) {
  if (capped) return `${total.toLocaleString('en-US')}+ entries · ${shown} shown`;
  return `${total} entr${total === 1 ? 'y' : 'ies'}${shown < total ? ` · ${shown} shown` : ''}`;
}

function Json({ v, label }) {
  if (v == null) return html`<span class="muted">—</span>`;
  return html`<pre class="json" tabindex="0" role="region" aria-label=${label}>${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}</pre>`;
}

export function Audit({ user }) {
  const [entityType, setEntityType] = useState('');
  const [actor, setActor] = useState('');
  const [action, setAction] = useState('');
  const [text, setText] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [applied, setApplied] = useState({});
  const [rangeError, setRangeError] = useState('');
  const match = (r) =>
    (!applied.entity_type || r.entity_type === applied.entity_type) &&
    (!applied.actor_id || r.actor_id === applied.actor_id) &&
    (!applied.action || r.action === applied.action) &&
    (!applied.from || String(r.at || '') >= applied.from) &&
    (!applied.to || String(r.at || '') <= applied.to);
  const { rows, loading, error, hasMore, loadMore, total, totalCapped } = useLiveList({
    path: '/api/v1/audit',
    params: applied,
    table: 'audit_logs',
    match,
    admit: applied.q ? (r) => [r.actor_email, r.action].some((v) => String(v || '').toLowerCase().includes(applied.q.toLowerCase())) : undefined,
    sort: bySeqDesc,
    pageSize: 50,
  });
  // datetime-local (the browser's local time) -> RFC 3339 UTC; '' stays unset.
  const iso = (v) => {
    if (!v) return undefined;
    const t = new Date(v).getTime();
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  };
  function apply(e) {
    e.preventDefault();
    const f = iso(from);
    const t = iso(to);
    if (f && t && f >= t) {
      setRangeError('"From" must be before "to".');
      return;
    }
    setRangeError('');
    setApplied({
      entity_type: entityType || undefined,
      actor_id: actor.trim() || undefined,
      action: action.trim() || undefined,
      q: text.trim() || undefined,
      from: f,
      to: t,
    });
  }
  const [verify, setVerify] = useState(null);
  const [verifying, setVerifying] = useState(false);
  const [open, setOpen] = useState(null);

  if (!canAdmin(user)) return html`<p class="error" role="alert">Only admins can read the audit log.</p>`;

  async function runVerify() {
    setVerifying(true);
    try {
      setVerify(await api('GET', '/api/v1/audit/verify'));
    } catch (err) {
      setVerify({ error: errText(err) });
    } finally {
      setVerifying(false);
    }
  }

  return html`<section aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title">Audit log</h1>
      <button type="button" class="btn" data-testid="audit-verify" onClick=${runVerify} disabled=${verifying}>${verifying ? 'Verifying…' : 'Verify chain'}</button>
      <span role="status" data-testid="audit-verify-result" data-ok=${verify ? String(!!verify.ok) : ''} class=${verify ? (verify.ok ? 'ok' : 'error') : ''}>
        ${verify
          ? verify.error
            ? `Verification failed: ${verify.error}`
            : verify.ok
              ? `Chain intact: ${verify.checked} entries checked.`
              : `Chain broken at seq ${verify.first_bad_seq} (${verify.checked} checked).`
          : ''}
      </span>
    </div>
    <form class="toolbar audit-filters" role="search" aria-label="Filter the audit log" onSubmit=${apply}>
      <label class="inline">Text <input type="search" data-testid="audit-filter-text" placeholder="actor e-mail or action" value=${text} onInput=${(e) => setText(e.target.value)} /></label>
      <label class="inline">Action <input data-testid="audit-filter-action" placeholder="e.g. user.update" list="audit-actions" value=${action} onInput=${(e) => setAction(e.target.value)} /></label>
      <datalist id="audit-actions">${ACTIONS.map((a) => html`<option key=${a} value=${a}></option>`)}</datalist>
      <label class="inline">Entity
        <select data-testid="audit-filter-entity" value=${entityType} onChange=${(e) => setEntityType(e.target.value)}>
          <option value="">all</option>${['client', 'user', 'agent_status', 'system_message', 'session'].map((t) => html`<option key=${t} value=${t}>${t}</option>`)}
        </select></label>
      <label class="inline">Actor id <input data-testid="audit-filter-actor" value=${actor} onInput=${(e) => setActor(e.target.value)} /></label>
      <label class="inline">From <input type="datetime-local" step="1" data-testid="audit-filter-from" value=${from} onInput=${(e) => setFrom(e.target.value)} /></label>
      <label class="inline">To <input type="datetime-local" step="1" data-testid="audit-filter-to" value=${to} onInput=${(e) => setTo(e.target.value)} /></label>
      <button class="btn" type="submit" data-testid="audit-apply">Apply</button>
      <span class="muted" role="status" data-testid="audit-count" data-total=${typeof total === 'number' && !loading ? total : ''} data-capped=${totalCapped ? 'true' : 'false'}>${typeof total === 'number' && !loading ? countText(total, totalCapped, rows.length) : ''}</span>
      <${CsvButton} path=${`/api/v1/audit${qs(applied)}`} testid="audit-csv" what="the audit log" />
    </form>
    ${rangeError ? html`<p class="error" role="alert" data-testid="audit-filter-error">${rangeError}</p>` : null}
    ${error ? html`<p class="error" role="alert">${errText(error)}</p>` : null}
    <div class="table-wrap"><table data-testid="audit-table">
      <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Entity</th><th scope="col">IP</th><th scope="col"><span class="sr-only">Details</span></th></tr></thead>
      <tbody>
        ${rows.map(
          (a) => html`<tr key=${a.id} data-testid=${`audit-row-${a.id}`} data-seq=${a.seq}>
              <td>${a.seq}</td><td>${fmtTime(a.at)}</td><td>${a.actor_email || a.actor_id || 'system'}</td><td><code>${a.action}</code></td>
              <td>${a.entity_type} <span class="muted small">${a.entity_id}</span></td><td>${a.ip || ''}</td>
              <td><button type="button" class="btn btn-small" aria-expanded=${open === a.id ? 'true' : 'false'} aria-label=${`${open === a.id ? 'Hide details' : 'Details'} of entry ${a.seq}`} data-testid=${`audit-details-${a.id}`} onClick=${() => setOpen(open === a.id ? null : a.id)}>${open === a.id ? 'Hide' : 'Details'}</button></td>
            </tr>
            ${open === a.id
              ? html`<tr key=${`${a.id}-d`} class="details"><td colspan="7"><div class="diff2"><div><h2 class="sub">Before</h2><${Json} v=${a.before} label=${`Before, entry ${a.seq}`} /></div><div><h2 class="sub">After</h2><${Json} v=${a.after} label=${`After, entry ${a.seq}`} /></div></div>
                  <p class="muted small">hash ${a.hash} · prev ${a.prev_hash} · request ${a.request_id || ''}</p></td></tr>`
              : null}`
        )}
      </tbody>
    </table></div>
    ${loading ? html`<p class="muted">Loading…</p>` : null}
    ${!loading && !rows.length && !error ? html`<p class="muted">No entries.</p>` : null}
    ${hasMore ? html`<button type="button" class="btn" data-testid="audit-more" onClick=${loadMore}>Load more</button>` : null}
  </section>`;
}
