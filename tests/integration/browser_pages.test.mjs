// Every data page of the web panel works live, in headless Chromium against the real server:
// create / edit / delete in one browser context shows in a second one without a reload
// (clients, users, messages), the audit viewer grows live and verifies, and the dashboard's
// figures follow the pushed metrics. Screenshots in tests/artifacts/browser_pages/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until } from './lib/browser.mjs';

const T = 'browser_pages';

// The id of the row (data-testid `${prefix}<id>`) that contains `text`.
async function rowId(page, prefix, text) {
  const el = page.locator(`[data-testid^="${prefix}"]`, { hasText: text }).first();
  await el.waitFor({ timeout: 3000 });
  return (await el.getAttribute('data-testid')).slice(prefix.length);
}

describe('web panel: pages live', { timeout: 170000 }, () => {
  let server;
  let b;
  let demo;
  before(async () => {
    server = await startPanelServer();
    b = await launch();
    demo = await demoData(server.url);
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  it('clients: create, suspend (optimistic) and delete show live in another browser', { timeout: 40000 }, async () => {
    const a = await loginAs(await b.newContext(), server.url, 'root@demo.test');
    const o = await loginAs(await b.newContext(), server.url, 'root@demo.test');
    for (const p of [a, o]) {
      await goPage(p, 'clients');
      await p.locator('[data-testid^="client-row-"]').first().waitFor();
    }
    const name = `Initech ${Date.now()}`;
    await a.locator(`${tid('client-create')} summary`).click();
    await a.locator(tid('client-new-name')).fill(name);
    await a.locator(tid('client-new-slug')).fill(`initech-${Date.now()}`);
    await a.locator(tid('client-new-submit')).click();
    const id = await rowId(o, 'client-row-', name);
    // Suspending asks first.
    await o.locator(tid(`client-status-${id}`)).selectOption('suspended');
    await o.locator(`${tid('client-suspend-dialog')}[open]`).waitFor();
    await o.locator(tid('client-suspend-confirm')).click();
    await until(async () => (await a.locator(tid(`client-status-${id}`)).inputValue()) === 'suspended', { timeout: 2000 });
    assert.equal(await a.locator(tid(`client-status-${id}`)).inputValue(), 'suspended');
    assert.equal(await a.locator(`[data-testid="client-row-${id}"]`).getAttribute('data-version'), '2');
    await shot(a, T, 'clients');
    // Deleting asks for the client's name to be typed (browser_danger tests the dialog).
    await a.locator(tid(`client-delete-${id}`)).click();
    await a.locator(`${tid('client-impact')}[data-loaded="true"]`).waitFor({ timeout: 5000 });
    await a.locator(tid('client-delete-confirm')).fill(name);
    await a.locator(tid('client-delete-submit')).click();
    await o.locator(`[data-testid="client-row-${id}"]`).waitFor({ state: 'detached', timeout: 2000 });
    assert.deepEqual([...a.errors, ...o.errors], []);
    await a.context().close();
    await o.context().close();
  });

  it('users: create, edit and delete show live; the audit log grows live and verifies', { timeout: 50000 }, async () => {
    const a = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    const o = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    await goPage(a, 'users');
    await a.locator('[data-testid^="user-row-"]').first().waitFor();
    await goPage(o, 'audit');
    await o.locator('[data-testid^="audit-row-"]').first().waitFor();
    const firstSeq = Number(await o.locator('[data-testid^="audit-row-"]').first().getAttribute('data-seq'));

    const email = `new${Date.now()}@acme.test`;
    await a.locator(`${tid('user-create')} summary`).click();
    await a.locator(tid('user-new-email')).fill(email);
    await a.locator(tid('user-new-name')).fill('New Person');
    await a.locator(tid('user-new-role')).selectOption('viewer');
    await a.locator(tid('user-new-password')).fill('a-long-password-1');
    // Admins cannot create super admins: the role is not offered.
    assert.equal(await a.locator(`${tid('user-new-role')} option[value="super_admin"]`).count(), 0);
    await a.locator(tid('user-new-submit')).click();
    const id = await rowId(a, 'user-row-', email);

    // The audit viewer in the other browser shows the creation at the top, live.
    await until(async () => Number(await o.locator('[data-testid^="audit-row-"]').first().getAttribute('data-seq')) > firstSeq, { timeout: 3000 });
    const top = o.locator('[data-testid^="audit-row-"]').first();
    assert.ok(Number(await top.getAttribute('data-seq')) > firstSeq);
    assert.match(await o.locator(tid('audit-table')).innerText(), /user/i);
    await o.locator(tid('audit-verify')).click();
    await o.locator(`${tid('audit-verify-result')}[data-ok="true"]`).waitFor();
    await shot(o, T, 'audit-live');

    // Edit in the other browser, seen in the first.
    await goPage(o, 'users');
    await o.locator(tid(`user-edit-${id}`)).click();
    await o.locator(tid(`user-edit-${id}-name`)).fill('Renamed Person');
    await o.locator(tid(`user-edit-${id}-status`)).selectOption('disabled');
    await o.locator(tid(`user-save-${id}`)).click();
    await until(async () => (await a.locator(tid(`user-name-${id}`)).innerText()) === 'Renamed Person', { timeout: 2000 });
    assert.equal(await a.locator(tid(`user-name-${id}`)).innerText(), 'Renamed Person');
    assert.equal(await a.locator(tid(`user-status-${id}`)).innerText(), 'disabled');
    await shot(a, T, 'users');
    // Delete in the first, gone in the other.
    await a.locator(tid(`user-delete-${id}`)).click();
    await a.locator(tid(`user-delete-${id}`)).click();
    await o.locator(`[data-testid="user-row-${id}"]`).waitFor({ state: 'detached', timeout: 2000 });
    // The user's own row cannot be edited or deleted.
    const me = demo.users.find((u) => u.email === 'admin@acme.test');
    assert.equal(await a.locator(tid(`user-delete-${me.id}`)).isDisabled(), true);
    assert.deepEqual([...a.errors, ...o.errors], []);
    await a.context().close();
    await o.context().close();
  });

  it('messages: create and delete show live, with a toast for the new message', { timeout: 30000 }, async () => {
    const a = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    const v = await loginAs(await b.newContext(), server.url, 'viewer@acme.test');
    await goPage(a, 'messages');
    await goPage(v, 'messages');
    await v.locator('[data-testid^="message-row-"]').first().waitFor();
    // A viewer has no create form and no edit buttons.
    assert.equal(await v.locator(tid('message-create')).count(), 0);
    assert.equal(await v.locator('[data-testid^="message-edit-"]').count(), 0);
    const title = `Critical ${Date.now()}`;
    await a.locator(`${tid('message-create')} summary`).click();
    await a.locator(tid('message-new-title')).fill(title);
    await a.locator(tid('message-new-body')).fill('all hands');
    await a.locator(tid('message-new-priority')).selectOption('critical');
    await a.locator(tid('message-new-submit')).click();
    const id = await rowId(v, 'message-row-', title);
    assert.equal(await v.locator(`[data-testid="message-row-${id}"]`).getAttribute('data-priority'), 'critical');
    // The viewer is notified: a critical toast (or a summary) and the assertive live region.
    await v.locator(`${tid('toast')}[data-priority="critical"]`, { hasText: title }).waitFor({ timeout: 3000 });
    assert.match(await v.locator(tid('live-region-assertive')).innerText(), new RegExp(title));
    await shot(v, T, 'messages-viewer-toast');
    await a.locator(tid(`message-delete-${id}`)).click();
    await a.locator(tid(`message-delete-${id}`)).click();
    await v.locator(`[data-testid="message-row-${id}"]`).waitFor({ state: 'detached', timeout: 2000 });
    assert.deepEqual([...a.errors, ...v.errors], []);
    await a.context().close();
    await v.context().close();
  });

  it('dashboard: figures follow the pushed metrics', { timeout: 30000 }, async () => {
    const page = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    await page.locator(`${tid('dash-live')}[data-state="SUBSCRIBED"]`).waitFor();
    const acmeUsers = demo.users.filter((u) => u.client_id === demo.clients.acme.id).length;
    await until(async () => (await page.locator(tid('dash-users')).innerText()) === String(acmeUsers));
    assert.equal(await page.locator(tid('dash-users')).innerText(), String(acmeUsers), 'own tenant only');
    const busy0 = Number(await page.locator(tid('dash-agents-busy')).innerText());
    const root = await rootApi(server.url);
    const agents = demo.agents.filter((x) => x.client_id === demo.clients.acme.id).slice(0, 2);
    for (const ag of agents) await root.patch(`/api/v1/agents/${ag.id}`, { status: 'busy' });
    // Pushed on the metrics interval (2 s by default): no reload, no refetch needed.
    await until(async () => Number(await page.locator(tid('dash-agents-busy')).innerText()) === busy0 + 2, { timeout: 6000 });
    assert.equal(Number(await page.locator(tid('dash-agents-busy')).innerText()), busy0 + 2);
    // (The "Updated" line shows whole seconds, so a push in the same second as the first
    // load leaves it unchanged: it is not asserted.)
    await shot(page, T, 'dashboard-live');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
});
