// Clients (super_admin): list with search/filter and paging, create, suspend/activate
// (optimistic, conflict-aware), delete.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { patchRow, useRealtimeClients } from '../lib/hooks.js';
import { SortHeader } from '../components/SortHeader.js';
import { notify } from '../lib/notify.js';
import { errText, fmtTime, isSuper } from '../lib/format.js';

export function Clients({ user }) {
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  const [sort, setSort] = useState('name');
  const { clients, loading, error, hasMore, loadMore, optimistic, apply, remove, total } = useRealtimeClients({ status: status || undefined, q: query || undefined, sort });
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [confirming, setConfirming] = useState(null);

  if (!isSuper(user)) return html`<p class="error" role="alert">Only a super admin can manage clients.</p>`;

  async function create(e) {
    e.preventDefault();
    try {
      const r = await api('POST', '/api/v1/clients', { body: { name, slug } });
      const row = r && r.data && r.data.id ? r.data : r;
      if (row && row.id) apply(row);
      setName('');
      setSlug('');
      notify({ kind: 'success', priority: 'low', title: 'Client created', body: name });
    } catch (err) {
      notify({ kind: 'error', title: 'Could not create client', body: errText(err) });
    }
  }

  const setClientStatus = (c, s) => optimistic(c.id, { status: s }, (p, v) => patchRow(`/api/v1/clients/${encodeURIComponent(c.id)}`, p, v), `client ${c.name}`);

  async function del(c) {
    if (confirming !== c.id) return setConfirming(c.id);
    setConfirming(null);
    try {
      await api('DELETE', `/api/v1/clients/${encodeURIComponent(c.id)}`, { headers: { 'If-Match': String(c.version) } });
      remove(c.id);
    } catch (err) {
      notify({ kind: 'error', title: 'Delete failed', body: errText(err) });
    }
  }

  return html`<section aria-labelledby="page-title">
    <div class="page-head"><h1 id="page-title">Clients</h1>
      <span class="muted" data-testid="clients-count" role="status" data-total=${typeof total === 'number' && !loading ? total : ''}>${typeof total === 'number' && !loading ? `${total} client${total === 1 ? '' : 's'}${clients.length < total ? ` · ${clients.length} shown` : ''}` : 'Loading clients…'}</span>
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
      <form class="form-grid" onSubmit=${create}>
        <label for="client-new-name">Name</label><input id="client-new-name" data-testid="client-new-name" required value=${name} onInput=${(e) => setName(e.target.value)} />
        <label for="client-new-slug">Slug</label><input id="client-new-slug" data-testid="client-new-slug" required pattern="[a-z0-9][a-z0-9\\-]*" value=${slug} onInput=${(e) => setSlug(e.target.value)} />
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
            <td>${c.name}</td><td><code>${c.slug}</code></td>
            <td>
              <label class="sr-only" for=${`client-status-${c.id}`}>Status of ${c.name}</label>
              <select id=${`client-status-${c.id}`} data-testid=${`client-status-${c.id}`} value=${c.status} onChange=${(e) => setClientStatus(c, e.target.value)}>
                <option value="active">active</option><option value="suspended">suspended</option>
              </select>
            </td>
            <td>${fmtTime(c.created_at)}</td>
            <td><button type="button" class="btn btn-small btn-danger" data-testid=${`client-delete-${c.id}`} aria-label=${`${confirming === c.id ? 'Confirm delete' : 'Delete'} client ${c.name}`} onClick=${() => del(c)}>${confirming === c.id ? 'Confirm delete' : 'Delete'}</button></td>
          </tr>`
        )}
      </tbody>
    </table></div>
    ${loading ? html`<p class="muted">Loading…</p>` : null}
    ${!loading && !error && !clients.length ? html`<p class="muted" data-testid="clients-empty">${query ? `No clients match “${query}”.` : 'No clients.'}</p>` : null}
    ${hasMore ? html`<button type="button" class="btn" data-testid="clients-more" onClick=${loadMore}>Load more</button>` : null}
  </section>`;
}
