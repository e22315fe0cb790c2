// Clients (super_admin): list with search/filter and paging, create, rename, suspend/activate
// (asks first; optimistic, conflict-aware), delete (a dialog lists what goes with the client
// and asks for its name to be typed), CSV download.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs } from '../lib/api.js';
import { patchRow, useRealtimeClients } from '../lib/hooks.js';
import { SortHeader } from '../components/SortHeader.js';
import { Modal } from '../components/Modal.js';
import { CsvButton } from '../components/CsvButton.js';
import { notify } from '../lib/notify.js';
import { errText, fmtTime, isSuper } from '../lib/format.js';
import { FieldError, maxLen, pattern, required, serverFieldErrors, useForm } from '../lib/validate.js';

const NEW_RULES = {
  name: [required('A name'), maxLen(200)],
  slug: [required('A slug'), maxLen(100), pattern(/^[a-z0-9][a-z0-9-]*$/, 'Lower-case letters, digits and "-" (not first).')],
};

// What deleting client c takes with it: GET /clients/{id}/impact, or (a server without it) the
// list totals filtered by client_id.
async function impactOf(c) {
  try {
    const r = await api('GET', `/api/v1/clients/${encodeURIComponent(c.id)}/impact`);
    const d = (r && (r.deletes || (r.data && r.data.deletes))) || null;
    if (d) return { users: d.users, agents: d.agents, messages: d.messages, agent_history: d.agent_history };
  } catch (err) {
    if (err.status !== 404 && err.status !== 405) throw err;
  }
  const total = async (p) => (await api('GET', `${p}${qs({ client_id: c.id, limit: 1 })}`)).total;
  const [users, agents, messages] = await Promise.all([total('/api/v1/users'), total('/api/v1/agents'), total('/api/v1/messages')]);
  return { users, agents, messages, agent_history: null };
}

function DeleteDialog({ c, onClose, onDeleted }) {
  const [impact, setImpact] = useState(null);
  const [err, setErr] = useState(null);
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let alive = true;
    impactOf(c)
      .then((i) => alive && setImpact(i))
      .catch((e) => alive && setErr(e));
    return () => {
      alive = false;
    };
  }, [c.id]);
  const ok = typed === c.name;
  async function del(e) {
    e.preventDefault();
    if (!ok) return;
    setBusy(true);
    try {
      await api('DELETE', `/api/v1/clients/${encodeURIComponent(c.id)}${qs({ confirm: c.name })}`, { headers: { 'If-Match': String(c.version) } });
      onDeleted(c, impact);
    } catch (e2) {
      setErr(e2);
      setBusy(false);
    }
  }
  const n = (k) => (impact && impact[k] != null ? impact[k] : '…');
  return html`<form onSubmit=${del}>
    <p>This deletes the client <strong>${c.name}</strong> (<code>${c.slug}</code>) and everything that belongs to it:</p>
    <ul class="impact" data-testid="client-impact" data-loaded=${impact ? 'true' : 'false'}>
      <li><span data-testid="client-impact-users" data-count=${impact ? impact.users : ''}>${n('users')}</span> users</li>
      <li><span data-testid="client-impact-agents" data-count=${impact ? impact.agents : ''}>${n('agents')}</span> agents${impact && impact.agent_history != null ? html` (with <span data-testid="client-impact-history" data-count=${impact.agent_history}>${impact.agent_history}</span> status history entries)` : null}</li>
      <li><span data-testid="client-impact-messages" data-count=${impact ? impact.messages : ''}>${n('messages')}</span> system messages</li>
    </ul>
    <p>The audit log keeps its entries. To cut access but keep the data, suspend the client instead.</p>
    <label for="client-delete-confirm">Type the client's name, <strong>${c.name}</strong>, to confirm</label>
    <input id="client-delete-confirm" data-testid="client-delete-confirm" data-autofocus autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.target.value)} />
    ${err ? html`<p class="error" role="alert" data-testid="client-delete-error">${errText(err)}</p>` : null}
    <div class="row-actions">
      <button type="button" class="btn" data-testid="client-delete-cancel" onClick=${onClose}>Cancel</button>
      <button type="submit" class="btn btn-danger" data-testid="client-delete-submit" disabled=${!ok || busy || !impact}>Delete ${c.name} and its data</button>
    </div>
  </form>`;
}

function RenameRow({ c, onSave, onCancel }) {
  const form = useForm({ name: c.name || '' }, { name: [required('A name'), maxLen(200)] }, `client-rename-${c.id}`);
  const ref = useRef(null);
  const input = useRef(null);
  useEffect(() => {
    if (input.current) input.current.focus();
  }, []);
  async function submit(e) {
    e.preventDefault();
    if (!form.check(ref.current)) return;
    try {
      await onSave(form.values.name.trim());
    } catch (err) {
      if (!form.fromServer(err, ref.current)) throw err;
    }
  }
  return html`<form class="form-inline" ref=${ref} novalidate onSubmit=${submit} data-testid=${`client-rename-form-${c.id}`} aria-label=${`Rename client ${c.name}`} onKeyDown=${(e) => {
    if (e.key === 'Escape') onCancel();
  }}>
    <label class="sr-only" for=${`client-rename-${c.id}-name`}>New name of ${c.name}</label>
    <div class="field"><input id=${`client-rename-${c.id}-name`} ref=${input} data-testid=${`client-rename-${c.id}-name`} required ...${form.bind('name')} /><${FieldError} form=${form} k="name" /></div>
    <button class="btn btn-primary btn-small" type="submit" data-testid=${`client-rename-${c.id}-save`}>Save</button>
    <button class="btn btn-small" type="button" data-testid=${`client-rename-${c.id}-cancel`} onClick=${onCancel}>Cancel</button>
  </form>`;
}

export function Clients({ user }) {
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState('name');
  const { clients, loading, error, hasMore, loadMore, optimistic, apply, remove, total } = useRealtimeClients({ status: status || undefined, q: query || undefined, sort });
  const newForm = useForm({ name: '', slug: '' }, NEW_RULES, 'client-new');
  const newRef = useRef(null);
  const [deleting, setDeleting] = useState(null);
  const [suspending, setSuspending] = useState(null);
  const [renaming, setRenaming] = useState(null);

  if (!isSuper(user)) return html`<p class="error" role="alert">Only a super admin can manage clients.</p>`;

  async function create(e) {
    e.preventDefault();
    if (!newForm.check(newRef.current)) return;
    const { name, slug } = newForm.values;
    try {
      const r = await api('POST', '/api/v1/clients', { body: { name, slug } });
      const row = r && r.data && r.data.id ? r.data : r;
      if (row && row.id) apply(row);
      newForm.reset();
      notify({ kind: 'success', priority: 'low', title: 'Client created', body: name });
    } catch (err) {
      if (!newForm.fromServer(err, newRef.current)) notify({ kind: 'error', title: 'Could not create client', body: errText(err) });
    }
  }

  async function setClientStatus(c, s) {
    const row = await optimistic(c.id, { status: s }, (p, v) => patchRow(`/api/v1/clients/${encodeURIComponent(c.id)}`, p, v), `client ${c.name}`);
    if (row) notify({ kind: 'success', priority: 'low', title: s === 'suspended' ? 'Client suspended' : 'Client activated', body: c.name });
  }

  // Suspending asks first (its users are signed out at once); activating does not.
  function pickStatus(c, s, el) {
    if (s === 'suspended' && c.status !== 'suspended') {
      el.value = c.status; // the select shows the current status until confirmed
      setSuspending(c);
      return;
    }
    setClientStatus(c, s);
  }

  async function rename(c, name) {
    if (name === c.name) return setRenaming(null);
    let invalid = null;
    const row = await optimistic(c.id, { name }, (p, v) => patchRow(`/api/v1/clients/${encodeURIComponent(c.id)}`, p, v), `client ${c.name}`, c.version, {
      handled: (err) => {
        if (serverFieldErrors(err)) invalid = err;
        return !!invalid;
      },
    });
    if (invalid) throw invalid;
    setRenaming(null);
    if (row) notify({ kind: 'success', priority: 'low', title: 'Client renamed', body: `${c.name} → ${name}` });
  }

  function deleted(c, impact) {
    setDeleting(null);
    remove(c.id);
    const parts = impact ? [`${impact.users} users`, `${impact.agents} agents`, `${impact.messages} messages`] : [];
    notify({ kind: 'success', priority: 'normal', title: `Client ${c.name} deleted`, body: parts.length ? `With ${parts.join(', ')}.` : '' });
  }

  const known = typeof total === 'number' && !loading;
  return html`<section aria-labelledby="page-title">
    <div class="page-head"><h1 id="page-title">Clients</h1>
      <span class="muted" data-testid="clients-count" role="status" data-total=${known ? total : ''}>${known ? `${total} client${total === 1 ? '' : 's'}${clients.length < total ? ` · ${clients.length} shown` : ''}` : 'Loading clients…'}</span>
      <${CsvButton} path=${`/api/v1/clients${qs({ status: status || undefined, q: query || undefined, sort })}`} testid="clients-csv" what="clients" />
    </div>
    <form class="toolbar" onSubmit=${(e) => { e.preventDefault(); setQuery(q); }} role="search">
      <label class="inline">Search <input type="search" data-testid="clients-search" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
      <label class="inline">Status
        <select data-testid="clients-filter" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          <option value="">all</option><option value="active">active</option><option value="suspended">suspended</option>
        </select></label>
      <button class="btn" type="submit">Search</button>
    </form>
    <details class="card" data-testid="client-create"><summary>New client</summary>
      <form class="form-grid" ref=${newRef} novalidate onSubmit=${create}>
        <label for="client-new-name">Name</label>
        <div class="field"><input id="client-new-name" data-testid="client-new-name" required ...${newForm.bind('name')} /><${FieldError} form=${newForm} k="name" /></div>
        <label for="client-new-slug">Slug</label>
        <div class="field"><input id="client-new-slug" data-testid="client-new-slug" required ...${newForm.bind('slug')} /><${FieldError} form=${newForm} k="slug" /></div>
        <div class="row-actions span2"><button class="btn btn-primary" type="submit" data-testid="client-new-submit">Create</button></div>
      </form>
    </details>
    ${error ? html`<p class="error" role="alert">${errText(error)}</p>` : null}
    <div class="table-wrap"><table data-testid="clients-table">
      <thead><tr>
        ${[['name', 'Name'], ['slug', 'Slug'], ['status', 'Status'], ['created_at', 'Created']].map(([col, label]) => html`<${SortHeader} key=${col} col=${col} label=${label} sort=${sort} onSort=${setSort} testPrefix="clients" />`)}
        <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${clients.map(
          (c) => html`<tr key=${c.id} data-testid=${`client-row-${c.id}`} data-version=${c.version} class=${c._pending ? 'pending' : ''}>
            <td data-testid=${`client-name-${c.id}`}>${renaming === c.id
              ? html`<${RenameRow} c=${c} onSave=${(name) => rename(c, name)} onCancel=${() => setRenaming(null)} />`
              : c.name}</td>
            <td><code>${c.slug}</code></td>
            <td>
              <label class="sr-only" for=${`client-status-${c.id}`}>Status of ${c.name}</label>
              <select id=${`client-status-${c.id}`} data-testid=${`client-status-${c.id}`} value=${c.status} onChange=${(e) => pickStatus(c, e.target.value, e.target)}>
                <option value="active">active</option><option value="suspended">suspended</option>
              </select>
            </td>
            <td>${fmtTime(c.created_at)}</td>
            <td class="row-actions">
              <button type="button" class="btn btn-small" data-testid=${`client-rename-${c.id}`} aria-label=${`Rename client ${c.name}`} onClick=${() => setRenaming(c.id)}>Rename</button>
              <button type="button" class="btn btn-small btn-danger" data-testid=${`client-delete-${c.id}`} aria-label=${`Delete client ${c.name}`} onClick=${() => setDeleting(c)}>Delete</button>
            </td>
          </tr>`
        )}
      </tbody>
    </table></div>
    ${loading ? html`<p class="muted">Loading…</p>` : null}
    ${!loading && !error && !clients.length ? html`<p class="muted" data-testid="clients-empty">${query ? `No clients match “${query}”.` : 'No clients.'}</p>` : null}
    ${hasMore ? html`<button type="button" class="btn" data-testid="clients-more" onClick=${loadMore}>Load more</button>` : null}
    <${Modal} open=${!!deleting} title=${deleting ? `Delete client ${deleting.name}?` : ''} testid="client-delete-dialog" onClose=${() => setDeleting(null)}>
      ${deleting ? html`<${DeleteDialog} key=${deleting.id} c=${deleting} onClose=${() => setDeleting(null)} onDeleted=${deleted} />` : null}
    <//>
    <${Modal} open=${!!suspending} title=${suspending ? `Suspend ${suspending.name}?` : ''} testid="client-suspend-dialog" onClose=${() => setSuspending(null)}>
      ${suspending
        ? html`<p>Its users are signed out at once and cannot log in until the client is active again. Its data is kept.</p>
            <div class="row-actions">
              <button type="button" class="btn" data-testid="client-suspend-cancel" data-autofocus onClick=${() => setSuspending(null)}>Cancel</button>
              <button type="button" class="btn btn-danger" data-testid="client-suspend-confirm" onClick=${() => {
                const c = suspending;
                setSuspending(null);
                setClientStatus(c, 'suspended');
              }}>Suspend ${suspending.name}</button>
            </div>`
        : null}
    <//>
  </section>`;
}
