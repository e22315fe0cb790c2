// Users: list with filters and paging, create, edit name/role/status (optimistic,
// conflict-aware), delete.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { patchRow, useRealtimeUsers } from '../lib/hooks.js';
import { SortHeader } from '../components/SortHeader.js';
import { notify } from '../lib/notify.js';
import { canAdmin, errText, fmtTime, isSuper, ROLES } from '../lib/format.js';

const NEW = { email: '', name: '', role: 'agent', password: '', client_id: '' };

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
  const [form, setForm] = useState(NEW);
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
    const body = { email: form.email, name: form.name, role: form.role, password: form.password };
    if (isSuper(user) && form.client_id) body.client_id = form.client_id;
    try {
      const r = await api('POST', '/api/v1/users', { body });
      const row = r && r.data && r.data.id ? r.data : r;
      if (row && row.id) apply(row);
      setForm(NEW);
      notify({ kind: 'success', priority: 'low', title: 'User created', body: body.email });
    } catch (err) {
      notify({ kind: 'error', title: 'Could not create user', body: errText(err) });
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

  const setF = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  return html`<section aria-labelledby="page-title">
    <div class="page-head"><h1 id="page-title">Users</h1>
      <span class="muted" data-testid="users-count" role="status" data-total=${typeof total === 'number' && !loading ? total : ''}>${typeof total === 'number' && !loading ? `${total} user${total === 1 ? '' : 's'}${users.length < total ? ` · ${users.length} shown` : ''}` : 'Loading users…'}</span>
    </div>
    <form class="toolbar" role="search" onSubmit=${(e) => { e.preventDefault(); setQuery(q); }}>
      <label class="inline">Search <input type="search" data-testid="users-search" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
      <label class="inline">Role <select data-testid="users-filter-role" value=${role} onChange=${(e) => setRole(e.target.value)}><option value="">all</option>${ROLES.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select></label>
      <label class="inline">Status <select data-testid="users-filter-status" value=${status} onChange=${(e) => setStatus(e.target.value)}><option value="">all</option><option value="active">active</option><option value="disabled">disabled</option></select></label>
      <button class="btn" type="submit">Search</button>
    </form>
    <details class="card" data-testid="user-create"><summary>New user</summary>
      <form class="form-grid" onSubmit=${create}>
        <label for="user-new-email">Email</label><input id="user-new-email" data-testid="user-new-email" type="email" required value=${form.email} onInput=${setF('email')} />
        <label for="user-new-name">Name</label><input id="user-new-name" data-testid="user-new-name" value=${form.name} onInput=${setF('name')} />
        <label for="user-new-role">Role</label><select id="user-new-role" data-testid="user-new-role" value=${form.role} onChange=${setF('role')}>${roles.map((r) => html`<option key=${r} value=${r}>${r}</option>`)}</select>
        ${isSuper(user)
          ? html`<label for="user-new-client">Client</label><select id="user-new-client" data-testid="user-new-client" value=${form.client_id} onChange=${setF('client_id')}><option value="">(none: super admin only)</option>${clients.map((c) => html`<option key=${c.id} value=${c.id}>${c.name}</option>`)}</select>`
          : null}
        <label for="user-new-password">Password</label><input id="user-new-password" data-testid="user-new-password" type="password" autocomplete="new-password" minlength="8" required value=${form.password} onInput=${setF('password')} />
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
                  <button type="button" class="btn btn-small btn-danger" data-testid=${`user-delete-${u.id}`} aria-label=${`${confirming === u.id ? 'Confirm delete' : 'Delete'} user ${u.email}`} onClick=${() => del(u)} disabled=${u.id === user.id}>${confirming === u.id ? 'Confirm delete' : 'Delete'}</button>
                </td>
              </tr>`
        )}
      </tbody>
    </table></div>
    ${loading ? html`<p class="muted">Loading…</p>` : null}
    ${!loading && !error && !users.length ? html`<p class="muted" data-testid="users-empty">${query ? `No users match “${query}”.` : 'No users.'}</p>` : null}
    ${hasMore ? html`<button type="button" class="btn" data-testid="users-more" onClick=${loadMore}>Load more</button>` : null}
  </section>`;
}
