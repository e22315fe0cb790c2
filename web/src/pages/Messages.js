// System message manager: create, edit (optimistic, conflict-aware), delete; live list with
// state (scheduled / active / expired, maintained by the server) and statistics (GET
// /api/v1/messages/stats: the counts of every visible message, not of the loaded page;
// re-fetched shortly after any change on the table and every 30 s).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { patchRow, useDebounced, useRealtimeSystemMessages, useStats } from '../lib/hooks.js';
import { notify } from '../lib/notify.js';
import { canAdmin, errText, fmtTime, isoToLocal, isSuper, localToISO, PRIORITIES } from '../lib/format.js';

const EMPTY = { title: '', body: '', priority: 'normal', client_id: '', starts_at: '', expires_at: '' };

function MessageForm({ user, clients, initial, onSubmit, onCancel, testPrefix, submitLabel, autoFocus = false }) {
  const [f, setF] = useState(initial);
  const [busy, setBusy] = useState(false);
  const titleRef = useRef(null);
  useEffect(() => {
    if (autoFocus && titleRef.current) titleRef.current.focus();
  }, []);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const id = (k) => `${testPrefix}-${k}`;
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    try {
      await onSubmit(f);
      if (!initial.id) setF(EMPTY);
    } finally {
      setBusy(false);
    }
  }
  return html`<form class="form-grid" onSubmit=${submit} data-testid=${`${testPrefix}-form`} aria-label=${initial.id ? `Edit message "${initial.title}"` : 'New message'} onKeyDown=${(e) => {
    if (e.key === 'Escape' && onCancel) onCancel();
  }}>
    <label for=${id('title')}>Title</label>
    <input id=${id('title')} ref=${titleRef} data-testid=${id('title')} required maxlength="200" value=${f.title} onInput=${set('title')} />
    <label for=${id('body')}>Body</label>
    <textarea id=${id('body')} data-testid=${id('body')} rows="3" required maxlength="5000" value=${f.body} onInput=${set('body')}></textarea>
    <label for=${id('priority')}>Priority</label>
    <select id=${id('priority')} data-testid=${id('priority')} value=${f.priority} onChange=${set('priority')}>
      ${PRIORITIES.map((p) => html`<option key=${p} value=${p}>${p}</option>`)}
    </select>
    ${!initial.id && isSuper(user)
      ? html`<label for=${id('client')}>Audience</label>
          <select id=${id('client')} data-testid=${id('client')} value=${f.client_id} onChange=${set('client_id')}>
            <option value="">Global (all clients)</option>
            ${clients.map((c) => html`<option key=${c.id} value=${c.id}>${c.name}</option>`)}
          </select>`
      : null}
    <label for=${id('starts')}>Starts</label>
    <input id=${id('starts')} data-testid=${id('starts')} type="datetime-local" step="1" value=${f.starts_at} onInput=${set('starts_at')} />
    <label for=${id('expires')}>Expires</label>
    <input id=${id('expires')} data-testid=${id('expires')} type="datetime-local" step="1" value=${f.expires_at} onInput=${set('expires_at')} />
    <div class="row-actions span2">
      <button class="btn btn-primary" type="submit" data-testid=${id('submit')} disabled=${busy}>${submitLabel}</button>
      ${onCancel ? html`<button class="btn" type="button" data-testid=${id('cancel')} onClick=${onCancel}>Cancel</button>` : null}
    </div>
  </form>`;
}

function toBody(f, full) {
  const b = { title: f.title, body: f.body, priority: f.priority };
  const s = localToISO(f.starts_at);
  const x = localToISO(f.expires_at);
  if (s || full) b.starts_at = s || undefined;
  if (x || full) b.expires_at = x;
  if (f.client_id) b.client_id = f.client_id;
  return b;
}

export function Messages({ user }) {
  const [state, setState] = useState('');
  const [search, setSearch] = useState('');
  const q = useDebounced(search.trim(), 300);
  const { messages, loading, error, optimistic, apply, remove, changeCount, total, hasMore, loadMore, loadingMore } = useRealtimeSystemMessages({ state: state || undefined, q: q || undefined });
  const stats = useStats(() => '/api/v1/messages/stats', [], changeCount);
  const [editing, setEditing] = useState(null);
  const [confirming, setConfirming] = useState(null);
  // When an edit form closes (save or cancel), the focus goes back to the row's Edit button.
  const lastEditing = useRef(null);
  useEffect(() => {
    if (editing) lastEditing.current = editing;
    else if (lastEditing.current != null) {
      const btn = document.querySelector(`[data-testid="message-edit-${CSS.escape(String(lastEditing.current))}"]`);
      lastEditing.current = null;
      if (btn) btn.focus();
    }
  }, [editing]);
  const [clients, setClients] = useState([]);
  const admin = canAdmin(user);
  const canWrite = (m) => admin && (isSuper(user) || m.client_id === user.client_id);

  useEffect(() => {
    if (!isSuper(user)) return;
    api('GET', '/api/v1/clients?limit=100')
      .then((b) => setClients(b.data || []))
      .catch(() => {});
  }, [user && user.id]);

  async function create(f) {
    try {
      const r = await api('POST', '/api/v1/messages', { body: toBody(f) });
      const row = r && r.data && r.data.id ? r.data : r;
      if (row && row.id) apply(row);
      notify({ kind: 'success', priority: 'low', title: 'Message created', body: f.title });
    } catch (err) {
      notify({ kind: 'error', title: 'Could not create message', body: errText(err) });
      throw err;
    }
  }

  function save(m, f) {
    setEditing(null);
    const patch = { title: f.title, body: f.body, priority: f.priority, expires_at: localToISO(f.expires_at) };
    const s = localToISO(f.starts_at);
    if (s) patch.starts_at = s;
    // If-Match carries the version the edit started from (f.version), so a change someone
    // else made meanwhile is reported as a conflict instead of being overwritten.
    return optimistic(m.id, patch, (p, v) => patchRow(`/api/v1/messages/${encodeURIComponent(m.id)}`, p, v), `message "${m.title}"`, f.version);
  }

  async function del(m) {
    if (confirming !== m.id) {
      setConfirming(m.id);
      return;
    }
    setConfirming(null);
    try {
      await api('DELETE', `/api/v1/messages/${encodeURIComponent(m.id)}`, { headers: { 'If-Match': String(m.version) } });
      remove(m.id);
    } catch (err) {
      notify({ kind: 'error', title: 'Delete failed', body: errText(err) });
    }
  }

  const st = stats.data || {};
  const byState = st.by_state || {};
  const activeByPrio = st.active_by_priority || {};
  const statsText = stats.data
    ? `${byState.active || 0} active · ${byState.scheduled || 0} scheduled · ${byState.expired || 0} expired · ${st.total || 0} total` +
      (PRIORITIES.some((p) => activeByPrio[p]) ? ' · active: ' + PRIORITIES.filter((p) => activeByPrio[p]).map((p) => `${activeByPrio[p]} ${p}`).join(', ') : '')
    : stats.error
      ? `statistics unavailable (${errText(stats.error)})`
      : '…';

  return html`<section aria-labelledby="page-title">
    <div class="page-head">
      <h1 id="page-title">System messages</h1>
      <label class="inline">Search
        <input type="search" data-testid="messages-search" value=${search} placeholder="title or text" autocomplete="off" onInput=${(e) => setSearch(e.target.value)} />
      </label>
      <label class="inline">State
        <select data-testid="messages-filter" value=${state} onChange=${(e) => setState(e.target.value)}>
          <option value="">all</option><option value="active">active</option><option value="scheduled">scheduled</option><option value="expired">expired</option>
        </select></label>
      <span class="muted" data-testid="messages-stats" data-total=${st.total ?? ''} data-active=${byState.active ?? ''} data-scheduled=${byState.scheduled ?? ''} data-expired=${byState.expired ?? ''} data-at=${stats.at || ''} title=${stats.data ? `By priority: ${PRIORITIES.map((p) => `${(st.by_priority || {})[p] || 0} ${p}`).join(', ')}` : ''}>${statsText}</span>
    </div>
    ${admin
      ? html`<details class="card" data-testid="message-create"><summary>New message</summary>
          <${MessageForm} user=${user} clients=${clients} initial=${EMPTY} onSubmit=${create} testPrefix="message-new" submitLabel="Publish" />
        </details>`
      : null}
    ${error ? html`<p class="error" role="alert">${errText(error)}</p>` : null}
    ${loading && !messages.length ? html`<p class="muted">Loading…</p>` : null}
    <ul class="list" data-testid="messages-list">
      ${messages.map(
        (m) => html`<li key=${m.id} class=${`card msg prio-border-${m.priority} state-${m.state}${m._pending ? ' pending' : ''}`} data-testid=${`message-row-${m.id}`} data-state=${m.state} data-priority=${m.priority} data-version=${m.version}>
          ${editing === m.id
            ? html`<${MessageForm}
                user=${user}
                clients=${clients}
                initial=${{ id: m.id, version: m.version, title: m.title || '', body: m.body || '', priority: m.priority || 'normal', client_id: m.client_id || '', starts_at: isoToLocal(m.starts_at), expires_at: isoToLocal(m.expires_at) }}
                onSubmit=${(f) => save(m, f)}
                onCancel=${() => setEditing(null)}
                testPrefix=${`message-edit-${m.id}`}
                submitLabel="Save"
                autoFocus=${true} />`
            : html`<div class="msg-head">
                  <span class=${`pill prio-${m.priority}`}>${m.priority}</span>
                  <strong data-testid=${`message-title-${m.id}`}>${m.title}</strong>
                  <span class=${`badge state-${m.state}`} data-testid=${`message-state-${m.id}`}>${m.state}</span>
                  <span class="muted">${m.client_id ? '' : 'global'}</span>
                </div>
                ${m.body ? html`<p class="msg-body">${m.body}</p>` : null}
                <div class="muted small">${m.starts_at ? `from ${fmtTime(m.starts_at)}` : ''}${m.expires_at ? ` until ${fmtTime(m.expires_at)}` : ' · no expiry'}</div>
                ${canWrite(m)
                  ? html`<div class="row-actions">
                      <button type="button" class="btn btn-small" data-testid=${`message-edit-${m.id}`} aria-label=${`Edit message "${m.title}"`} onClick=${() => setEditing(m.id)}>Edit</button>
                      <button type="button" class="btn btn-small btn-danger" data-testid=${`message-delete-${m.id}`} aria-label=${`${confirming === m.id ? 'Confirm delete' : 'Delete'} message "${m.title}"`} onClick=${() => del(m)}>${confirming === m.id ? 'Confirm delete' : 'Delete'}</button>
                    </div>`
                  : null}`}
        </li>`
      )}
    </ul>
    ${!loading && !messages.length && !error ? html`<p class="muted" data-testid="messages-empty">${q ? `No messages match “${q}”.` : 'No messages.'}</p>` : null}
    ${typeof total === 'number' && !loading && total > 0
      ? html`<p class="muted small" data-testid="messages-shown" data-total=${total} data-shown=${messages.length}>${messages.length < total ? `${messages.length} of ${total} shown (newest first)` : `${total} shown`}</p>`
      : null}
    ${hasMore ? html`<button type="button" class="btn" data-testid="messages-more" disabled=${loadingMore} onClick=${loadMore}>Load more</button>` : null}
  </section>`;
}
