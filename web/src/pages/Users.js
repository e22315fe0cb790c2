// Users: list with filters and paging, create (validated as you type, server 422s at the
// field), edit name/role/status (optimistic, conflict-aware), delete, a one-time password
// reset token (shown once), CSV download and import (CsvImport: problems by row, then a
// set-password link per new user).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs } from '../lib/api.js';
import { patchRow, useRealtimeUsers } from '../lib/hooks.js';
import { SortHeader } from '../components/SortHeader.js';
import { Modal } from '../components/Modal.js';
import { CsvButton } from '../components/CsvButton.js';
import { CsvImport } from '../components/CsvImport.js';
import { email, FieldError, maxLen, minLen, required, useForm } from '../lib/validate.js';
import { notify } from '../lib/notify.js';
import { canAdmin, errText, fmtTime, isSuper, ROLES } from '../lib/format.js';

const NEW = { email: '', name: '', role: 'agent', password: '', client_id: '' };
const NEW_RULES = {
  email: [required('An e-mail address'), email(), maxLen(254)],
  name: [required('A name'), maxLen(200)],
  password: [required('A password'), minLen(8), maxLen(256)],
};

// A reset token for u, asked for when the dialog opens and shown once (the server keeps only
// its hash); the admin hands it to the user, who sets a password with it.
function ResetToken({ u, onClose }) {
  const [r, setR] = useState(null);
  const [err, setErr] = useState(null);
  useEffect(() => {
    let alive = true;
    api('POST', `/api/v1/users/${encodeURIComponent(u.id)}/reset-token`)
      .then((b) => alive && setR(b && b.token ? b : b && b.data))
      .catch((e) => alive && setErr(e));
    return () => {
      alive = false;
    };
  }, [u.id]);
  return html`<div>
    ${err ? html`<p class="error" role="alert" data-testid="reset-token-error">${errText(err)}</p>` : null}
    ${!r && !err ? html`<p class="muted">Creating a token…</p>` : null}
    ${r
      ? html`<p>Give this one-time token to <strong>${u.email}</strong>. It sets a new password once, until ${fmtTime(r.expires_at)}. It is shown only now.</p>
          <p class="token" data-testid="reset-token-value" tabindex="0" aria-label="Reset token">${r.token}</p>`
      : null}
    <div class="row-actions">
      ${r && navigator.clipboard ? html`<button type="button" class="btn" data-testid="reset-token-copy" onClick=${() => navigator.clipboard.writeText(r.token).then(() => notify({ kind: 'success', priority: 'low', title: 'Token copied' }), () => {})}>Copy</button>` : null}
      <button type="button" class="btn btn-primary" data-testid="reset-token-close" onClick=${onClose}>Done</button>
    </div>
  </div>`;
}

function EditRow({ u, roles, onSave, onCancel }) {
  const [f, setF] = useState({ name: u.name || '', role: u.role, status: u.status });
  const [version] = useState(u.version); // the version this edit started from (If-Match)
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const id = (k) => `user-edit-${u.id}-${k}`;
  const nameRef = useRef(null);
  useEffect(() => {
    if (nameRef.current) nameRef.current.focus();
  }, []);
  return html`<td colspan="5">
    <form class="form-inline" onSubmit=${(e) => { e.preventDefault(); onSave(f, version); }} data-testid=${`user-edit-form-${u.id}`} aria-label=${`Edit user ${u.email}`} onKeyDown=${(e) => {
      if (e.key === 'Escape') onCancel();
    }}>
      <label for=${id('name')}>Name</label><input id=${id('name')} ref=${nameRef} data-testid=${id('name')} value=${f.name} onInput=${set('name')} />
      <label for=${id('role')}>Role</label>
      <select id=${id('role')} data-testid=${id('role')} value=${f.role} onChange=${set('role')}>${roles.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select>
      <label for=${id('status')}>Status</label>
      <select id=${id('status')} data-testid=${id('status')} value=${f.status} onChange=${set('status')}><option value="active">active</option><option value="disabled">disabled</option></select>
      <button class="btn btn-primary btn-small" type="submit" data-testid=${`user-save-${u.id}`}>Save</button>
      <button class="btn btn-small" type="button" onClick=${onCancel} data-testid=${`user-cancel-${u.id}`}>Cancel</button>
    </form>
  </td>`;
}

export function Users({ user }) {
  const [role, setRole] = useState('');
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState('email');
  const { users, loading, error, hasMore, loadMore, optimistic, apply, remove, total } = useRealtimeUsers({ role: role || undefined, status: status || undefined, q: query || undefined, sort });
  const [editing, setEditing] = useState(null);
  const [confirming, setConfirming] = useState(null);
  // When the edit row closes (save or cancel), the focus goes back to the row's Edit button.
  const lastEditing = useRef(null);
  useEffect(() => {
    if (editing) lastEditing.current = editing;
    else if (lastEditing.current != null) {
      const btn = document.querySelector(`[data-testid="user-edit-${CSS.escape(String(lastEditing.current))}"]`);
      lastEditing.current = null;
      if (btn) btn.focus();
    }
  }, [editing]);
  const nf = useForm(NEW, NEW_RULES, 'user-new');
  const form = nf.values;
  const newRef = useRef(null);
  const [resetting, setResetting] = useState(null);
  const [clients, setClients] = useState([]);
  const roles = isSuper(user) ? ROLES : ROLES.filter((r) => r !== 'super_admin');

  useEffect(() => {
    if (!isSuper(user)) return;
    api('GET', '/api/v1/clients?limit=100').then((b) => setClients(b.data || [])).catch(() => {});
  }, [user && user.id]);

  if (!canAdmin(user)) return html`<p class="error" role="alert">Only admins can manage users.</p>`;
  const clientName = (id) => (clients.find((c) => c.id === id) || {}).name || '';

  async function create(e) {
    e.preventDefault();
    if (!nf.check(newRef.current)) return;
    const body = { email: form.email, name: form.name, role: form.role, password: form.password };
    if (isSuper(user) && form.client_id) body.client_id = form.client_id;
    try {
      const r = await api('POST', '/api/v1/users', { body });
      const row = r && r.data && r.data.id ? r.data : r;
      if (row && row.id) apply(row);
      nf.reset();
      notify({ kind: 'success', priority: 'low', title: 'User created', body: body.email });
    } catch (err) {
      if (!nf.fromServer(err, newRef.current)) notify({ kind: 'error', title: 'Could not create user', body: errText(err) });
    }
  }

  function save(u, f, version) {
    setEditing(null);
    return optimistic(u.id, f, (p, v) => patchRow(`/api/v1/users/${encodeURIComponent(u.id)}`, p, v), `user ${u.email}`, version);
  }

  async function del(u) {
    if (confirming !== u.id) return setConfirming(u.id);
    setConfirming(null);
    try {
      await api('DELETE', `/api/v1/users/${encodeURIComponent(u.id)}`, { headers: { 'If-Match': String(u.version) } });
      remove(u.id);
    } catch (err) {
      notify({ kind: 'error', title: 'Delete failed', body: errText(err) });
    }
  }

  const setF = (k) => (e) => nf.set(k, e.target.value);
  return html`<section aria-labelledby="page-title">
    <div class="page-head"><h1 id="page-title">Users</h1>
      <span class="muted" data-testid="users-count" role="status" data-total=${typeof total === 'number' && !loading ? total : ''}>${typeof total === 'number' && !loading ? `${total} user${total === 1 ? '' : 's'}${users.length < total ? ` · ${users.length} shown` : ''}` : 'Loading users…'}</span>
      <${CsvButton} path=${`/api/v1/users${qs({ role: role || undefined, status: status || undefined, q: query || undefined, sort })}`} testid="users-csv" what="users" />
      <${CsvImport} testid="users-import" what="users" canPickClient=${isSuper(user)} />
    </div>
    <form class="toolbar" role="search" onSubmit=${(e) => { e.preventDefault(); setQuery(q); }}>
      <label class="inline">Search <input type="search" data-testid="users-search" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
      <label class="inline">Role <select data-testid="users-filter-role" value=${role} onChange=${(e) => setRole(e.target.value)}><option value="">all</option>${ROLES.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select></label>
      <label class="inline">Status <select data-testid="users-filter-status" value=${status} onChange=${(e) => setStatus(e.target.value)}><option value="">all</option><option value="active">active</option><option value="disabled">disabled</option></select></label>
      <button class="btn" type="submit">Search</button>
    </form>
    <details class="card" data-testid="user-create"><summary>New user</summary>
      <form class="form-grid" ref=${newRef} novalidate onSubmit=${create}>
        <label for="user-new-email">Email</label><div class="field"><input id="user-new-email" data-testid="user-new-email" type="email" required ...${nf.bind('email')} /><${FieldError} form=${nf} k="email" /></div>
        <label for="user-new-name">Name</label><div class="field"><input id="user-new-name" data-testid="user-new-name" required ...${nf.bind('name')} /><${FieldError} form=${nf} k="name" /></div>
        <label for="user-new-role">Role</label><select id="user-new-role" data-testid="user-new-role" value=${form.role} onChange=${setF('role')}>${roles.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select>
        ${isSuper(user)
          ? html`<label for="user-new-client">Client</label><select id="user-new-client" data-testid="user-new-client" value=${form.client_id} onChange=${setF('client_id')}><option value="">(none: super admin only)</option>${clients.map((c) => html`<option key=${c.id} value=${c.id}>${c.name}</option>`)}</select>${nf.shown('client_id') ? html`<p class="field-error span2" data-testid="user-new-client_id-error">${nf.shown('client_id')}</p>` : null}`
          : null}
        <label for="user-new-password">Password</label><div class="field"><input id="user-new-password" data-testid="user-new-password" type="password" autocomplete="new-password" minlength="8" required ...${nf.bind('password')} /><${FieldError} form=${nf} k="password" /></div>
        <div class="row-actions span2"><button class="btn btn-primary" type="submit" data-testid="user-new-submit">Create</button></div>
      </form>
    </details>
    ${error ? html`<p class="error" role="alert">${errText(error)}</p>` : null}
    <div class="table-wrap"><table data-testid="users-table">
      <thead><tr>
        ${[['email', 'Email'], ['name', 'Name'], ['role', 'Role'], ['status', 'Status']].map(([col, label]) => html`<${SortHeader} key=${col} col=${col} label=${label} sort=${sort} onSort=${setSort} testPrefix="users" />`)}
        <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${users.map((u) =>
          editing === u.id
            ? html`<tr key=${u.id} data-testid=${`user-row-${u.id}`}><${EditRow} u=${u} roles=${roles} onSave=${(f, v) => save(u, f, v)} onCancel=${() => setEditing(null)} /></tr>`
            : html`<tr key=${u.id} data-testid=${`user-row-${u.id}`} data-version=${u.version} class=${u._pending ? 'pending' : ''}>
                <td>${u.email}${isSuper(user) && u.client_id ? html`<div class="muted small">${clientName(u.client_id)}</div>` : null}</td>
                <td data-testid=${`user-name-${u.id}`}>${u.name}</td>
                <td data-testid=${`user-role-${u.id}`}>${u.role}</td>
                <td><span class=${`badge state-${u.status}`} data-testid=${`user-status-${u.id}`}>${u.status}</span>${u.last_login_at ? html`<div class="muted small">last login ${fmtTime(u.last_login_at)}</div>` : null}</td>
                <td class="row-actions">
                  <button type="button" class="btn btn-small" data-testid=${`user-edit-${u.id}`} aria-label=${`Edit user ${u.email}`} onClick=${() => setEditing(u.id)} disabled=${u.id === user.id}>Edit</button>
                  <button type="button" class="btn btn-small" data-testid=${`user-reset-${u.id}`} aria-label=${`Reset password of ${u.email}`} onClick=${() => setResetting(u)} disabled=${u.id === user.id}>Reset password</button>
                  <button type="button" class="btn btn-small btn-danger" data-testid=${`user-delete-${u.id}`} aria-label=${`${confirming === u.id ? 'Confirm delete' : 'Delete'} user ${u.email}`} onClick=${() => del(u)} disabled=${u.id === user.id}>${confirming === u.id ? 'Confirm delete' : 'Delete'}</button>
                </td>
              </tr>`
        )}
      </tbody>
    </table></div>
    ${loading ? html`<p class="muted">Loading…</p>` : null}
    ${!loading && !error && !users.length ? html`<p class="muted" data-testid="users-empty">${query ? `No users match “${query}”.` : 'No users.'}</p>` : null}
    ${hasMore ? html`<button type="button" class="btn" data-testid="users-more" onClick=${loadMore}>Load more</button>` : null}
    <${Modal} open=${!!resetting} title=${resetting ? `Reset the password of ${resetting.email}` : ''} testid="reset-token-dialog" onClose=${() => setResetting(null)}>
      ${resetting ? html`<${ResetToken} key=${resetting.id} u=${resetting} onClose=${() => setResetting(null)} />` : null}
    <//>
  </section>`;
}
