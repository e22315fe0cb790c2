// Dangerous actions in headless Chromium against the real server (demo data):
// - deleting a client opens a dialog that counts what goes with it (users, agents, messages:
//   the server's impact endpoint, else the lists' totals filtered by client) and deletes only
//   once the client's name is typed exactly; Cancel and Escape change nothing; a toast says
//   what was deleted;
// - suspending a client asks first (Cancel keeps it active), with a toast when done;
// - a deleted message can be restored from the toast's Undo.
// Screenshots in tests/artifacts/browser_danger/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api } from './lib/server.mjs';
import { demoData, goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until } from './lib/browser.mjs';

const T = 'browser_danger';

describe('web panel: dangerous actions confirm, count and can be undone', { timeout: 240000 }, () => {
  let server;
  let b;
  let demo;
  let root;
  before(async () => {
    server = await startPanelServer();
    demo = await demoData(server.url);
    root = await rootApi(server.url);
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  async function newClient(tag) {
    const c = (await root.post('/api/v1/clients', { name: `Doomed ${tag}`, slug: `doomed-${tag}` })).row;
    for (let i = 1; i <= 3; i++) {
      await root.post('/api/v1/users', { email: `u${i}@${tag}.test`, name: `User ${i}`, role: i === 3 ? 'viewer' : 'agent', password: 'a-long-password-1', client_id: c.id });
    }
    await root.post('/api/v1/messages', { title: `For ${tag}`, body: 'x', priority: 'normal', client_id: c.id });
    return c;
  }
  const totalOf = async (p, clientId) => (await root.get(`${p}?client_id=${clientId}&limit=1`)).total;

  it('delete a client: counts of what goes with it, the typed name, a toast', { timeout: 60000 }, async () => {
    const tag = `d${Date.now()}`;
    const c = await newClient(tag);
    const want = { users: await totalOf('/api/v1/users', c.id), agents: await totalOf('/api/v1/agents', c.id), messages: await totalOf('/api/v1/messages', c.id) };
    assert.equal(want.users, 3);
    assert.equal(want.messages, 1);
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'root@demo.test');
    await goPage(page, 'clients');
    const del = page.locator(tid(`client-delete-${c.id}`));
    await del.waitFor({ timeout: 10000 });

    // Escape closes the dialog, nothing deleted, the focus back on the button.
    await del.click();
    await page.locator(`${tid('client-delete-dialog')}[open]`).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'client-delete-confirm');
    await page.keyboard.press('Escape');
    await page.locator(`${tid('client-delete-dialog')}[open]`).waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), `client-delete-${c.id}`);

    await del.click();
    await page.locator(`${tid('client-impact')}[data-loaded="true"]`).waitFor({ timeout: 10000 });
    for (const k of ['users', 'agents', 'messages']) {
      assert.equal(Number(await page.locator(tid(`client-impact-${k}`)).getAttribute('data-count')), want[k], k);
    }
    // The server's impact endpoint also counts the agents' status history.
    const impact = await root.get(`/api/v1/clients/${c.id}/impact`);
    assert.equal(Number(await page.locator(tid('client-impact-history')).getAttribute('data-count')), impact.deletes.agent_history);
    assert.equal(impact.deletes.users, want.users);
    const submit = page.locator(tid('client-delete-submit'));
    assert.equal(await submit.isDisabled(), true, 'nothing typed');
    await page.locator(tid('client-delete-confirm')).fill(c.slug); // not the name
    assert.equal(await submit.isDisabled(), true, 'the slug is not the name');
    await page.locator(tid('client-delete-confirm')).fill(`${c.name.toLowerCase()}`);
    assert.equal(await submit.isDisabled(), true, 'exact, case included');
    // Enter in the field does not submit a mismatch either.
    await page.locator(tid('client-delete-confirm')).press('Enter');
    await shot(page, T, 'client-delete-dialog');
    assert.equal((await api(server.url, 'GET', `/api/v1/clients/${c.id}`, { token: root.token })).status, 200);
    // Cancel: still there.
    await page.locator(tid('client-delete-cancel')).click();
    await page.locator(`${tid('client-delete-dialog')}[open]`).waitFor({ state: 'detached' });
    assert.equal((await api(server.url, 'GET', `/api/v1/clients/${c.id}`, { token: root.token })).status, 200);

    await del.click();
    await page.locator(`${tid('client-impact')}[data-loaded="true"]`).waitFor({ timeout: 10000 });
    await page.locator(tid('client-delete-confirm')).fill(c.name);
    await submit.click();
    await page.locator(tid(`client-row-${c.id}`)).waitFor({ state: 'detached', timeout: 10000 });
    const toast = page.locator(`${tid('toast')}[data-kind="success"]`, { hasText: `Client ${c.name} deleted` });
    await toast.waitFor({ timeout: 5000 });
    assert.match(await toast.innerText(), new RegExp(`${want.users} users, ${want.agents} agents, ${want.messages} messages`));
    assert.equal((await api(server.url, 'GET', `/api/v1/clients/${c.id}`, { token: root.token })).status, 404);
    assert.equal(await totalOf('/api/v1/users', c.id), 0);
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('suspend a client: asks first; Cancel keeps it active; confirmed, a toast', { timeout: 60000 }, async () => {
    const tag = `s${Date.now()}`;
    const c = (await root.post('/api/v1/clients', { name: `Paused ${tag}`, slug: `paused-${tag}` })).row;
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'root@demo.test');
    await goPage(page, 'clients');
    const sel = page.locator(tid(`client-status-${c.id}`));
    await sel.waitFor({ timeout: 10000 });
    await sel.selectOption('suspended');
    await page.locator(`${tid('client-suspend-dialog')}[open]`).waitFor();
    assert.equal(await sel.inputValue(), 'active', 'unchanged until confirmed');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'client-suspend-cancel', 'the safe choice has the focus');
    await page.locator(tid('client-suspend-cancel')).click();
    await page.locator(`${tid('client-suspend-dialog')}[open]`).waitFor({ state: 'detached' });
    assert.equal(await sel.inputValue(), 'active');
    assert.equal((await root.get(`/api/v1/clients/${c.id}`)).status, 'active');

    await sel.selectOption('suspended');
    await page.locator(`${tid('client-suspend-dialog')}[open]`).waitFor();
    await page.locator(tid('client-suspend-confirm')).click();
    await until(async () => (await root.get(`/api/v1/clients/${c.id}`)).status === 'suspended', { timeout: 10000 });
    assert.equal((await root.get(`/api/v1/clients/${c.id}`)).status, 'suspended');
    await page.locator(`${tid('toast')}[data-kind="success"]`, { hasText: 'Client suspended' }).waitFor({ timeout: 5000 });
    // Activating again does not ask.
    await sel.selectOption('active');
    await until(async () => (await root.get(`/api/v1/clients/${c.id}`)).status === 'active', { timeout: 10000 });
    assert.equal(await page.locator(`${tid('client-suspend-dialog')}[open]`).count(), 0);
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('a deleted message comes back with Undo in the toast', { timeout: 60000 }, async () => {
    const title = `Undo me ${Date.now()}`;
    const m = (await root.post('/api/v1/messages', { title, body: 'restore this', priority: 'high', client_id: demo.clients.acme.id })).row;
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    await page.locator(tid(`message-delete-${m.id}`)).click();
    await page.locator(tid(`message-delete-${m.id}`)).click();
    await page.locator(tid(`message-row-${m.id}`)).waitFor({ state: 'detached', timeout: 10000 });
    assert.equal((await api(server.url, 'GET', `/api/v1/messages/${m.id}`, { token: root.token })).status, 404);
    const toast = page.locator(tid('toast'), { hasText: 'Message deleted' });
    await toast.waitFor({ timeout: 5000 });
    await toast.locator(tid('toast-action')).click();
    await page.locator(`${tid('toast')}[data-kind="success"]`, { hasText: 'Message restored' }).waitFor({ timeout: 10000 });
    const again = (await root.get(`/api/v1/messages?q=${encodeURIComponent(title)}`)).data;
    assert.equal(again.length, 1);
    assert.equal(again[0].body, 'restore this');
    assert.equal(again[0].priority, 'high');
    assert.equal(again[0].client_id, demo.clients.acme.id);
    await page.locator(tid(`message-row-${again[0].id}`)).waitFor({ timeout: 10000 });
    await shot(page, T, 'message-undo');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });
});
