// Editing one agent's reason alone (issue 13), headless Chromium against the real server (demo
// data): in the agent's detail panel ("Statistics & history") the reason is saved with the same
// status (PATCH {status, reason}); the server keeps the status, its time and the open history
// interval (no new one) and writes the reason there; the card and another browser follow live;
// an empty field clears it; an agent edits its own reason, a viewer gets no editor.
// Screenshots in tests/artifacts/browser_agent_reason/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, login } from './lib/server.mjs';
import { demoData, goPage, launch, loginAs, shot, startPanelServer, tid, until } from './lib/browser.mjs';

const T = 'browser_agent_reason';

describe('web panel: an agent\'s reason edited alone', { timeout: 180000 }, () => {
  let server;
  let b;
  let demo;
  let admin;
  before(async () => {
    server = await startPanelServer();
    demo = await demoData(server.url);
    admin = (await login(server.url, 'admin@acme.test')).access_token;
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  const agentOf = (email) => demo.agents.find((a) => a.user_id === demo.users.find((u) => u.email === email).id);
  const get = async (id) => (await api(server.url, 'GET', `/api/v1/agents/${id}`, { token: admin })).json;
  const history = async (id) => (await api(server.url, 'GET', `/api/v1/agents/${id}/history?limit=500`, { token: admin })).json.data;

  it('admin: same status, new reason, no new interval; live on the card and elsewhere; cleared', { timeout: 90000 }, async () => {
    const a = agentOf('agent2@acme.test');
    const set = await api(server.url, 'PATCH', `/api/v1/agents/${a.id}`, { token: admin, body: { status: 'busy', reason: 'calls' } });
    assert.equal(set.status, 200, set.text);
    const before1 = await get(a.id);
    const hist0 = await history(a.id);

    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'agents');
    const watcher = await loginAs(await b.newContext(), server.url, 'root@demo.test');
    await goPage(watcher, 'agents');
    await watcher.locator(tid(`agent-reason-${a.id}`)).waitFor({ timeout: 10000 });

    await page.locator(tid(`agent-history-${a.id}`)).click();
    const input = page.locator(tid(`agent-reason-input-${a.id}`));
    await input.waitFor();
    assert.equal(await input.inputValue(), 'calls');
    assert.equal(await page.locator(tid(`agent-reason-save-${a.id}`)).isDisabled(), true, 'nothing to save yet');
    await input.fill('training until 3 pm');
    await page.locator(tid(`agent-reason-save-${a.id}`)).click();
    await page.locator(tid('toast'), { hasText: 'Reason saved' }).waitFor({ timeout: 10000 });
    await until(async () => (await page.locator(tid(`agent-reason-${a.id}`)).innerText()) === 'training until 3 pm', { timeout: 10000 });
    const after1 = await get(a.id);
    assert.equal(after1.status, 'busy', 'the status stays');
    assert.equal(after1.reason, 'training until 3 pm');
    assert.equal(after1.status_since, before1.status_since, 'the time in status goes on');
    assert.equal(after1.version, before1.version + 1);
    const hist1 = await history(a.id);
    assert.equal(hist1.length, hist0.length, 'no new history interval');
    assert.equal(hist1.filter((h) => !h.ended_at)[0].reason, 'training until 3 pm', 'the open interval carries the reason');
    // Another browser sees it live.
    await until(async () => (await watcher.locator(tid(`agent-reason-${a.id}`)).innerText().catch(() => '')) === 'training until 3 pm', { timeout: 10000 });
    assert.equal(await watcher.locator(tid(`agent-reason-${a.id}`)).innerText(), 'training until 3 pm');
    await shot(page, T, 'saved');

    // A change made elsewhere shows in the field while it is not being edited.
    await api(server.url, 'PATCH', `/api/v1/agents/${a.id}`, { token: admin, body: { status: 'busy', reason: 'coaching' } });
    await until(async () => (await input.inputValue()) === 'coaching', { timeout: 10000 });
    assert.equal(await input.inputValue(), 'coaching');
    // Emptied: the reason is cleared, the status still stays.
    await input.fill('');
    await page.locator(tid(`agent-reason-save-${a.id}`)).click();
    await page.locator(tid('toast'), { hasText: 'Reason cleared' }).waitFor({ timeout: 10000 });
    await page.locator(tid(`agent-reason-${a.id}`)).waitFor({ state: 'detached', timeout: 10000 });
    const after2 = await get(a.id);
    assert.deepEqual([after2.status, after2.reason, after2.status_since], ['busy', null, before1.status_since]);
    assert.equal((await history(a.id)).length, hist0.length);
    assert.deepEqual(page.errors, []);
    await watcher.context().close();
    await ctx.close();
  });

  it('an agent edits its own reason; a viewer has no editor', { timeout: 60000 }, async () => {
    const own = agentOf('agent3@acme.test');
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'agent3@acme.test');
    await page.locator(tid(`agent-history-${own.id}`)).click();
    const input = page.locator(tid(`agent-reason-input-${own.id}`));
    await input.fill('on site');
    await input.press('Enter');
    await page.locator(tid('toast'), { hasText: 'Reason saved' }).waitFor({ timeout: 10000 });
    const row = await get(own.id);
    assert.equal(row.reason, 'on site');
    assert.equal(row.status, own.status);
    // Another agent's panel has no editor.
    const other = agentOf('agent4@acme.test');
    await page.locator(tid(`agent-history-${other.id}`)).click();
    await page.locator(tid(`agent-history-panel-${other.id}`)).waitFor();
    assert.equal(await page.locator(tid(`agent-reason-form-${other.id}`)).count(), 0);
    await ctx.close();

    const vctx = await b.newContext();
    const viewer = await loginAs(vctx, server.url, 'viewer@acme.test');
    await viewer.locator(tid(`agent-history-${own.id}`)).click();
    await viewer.locator(tid(`agent-history-panel-${own.id}`)).waitFor();
    assert.equal(await viewer.locator(tid(`agent-reason-form-${own.id}`)).count(), 0);
    assert.deepEqual(viewer.errors, []);
    await vctx.close();
  });
});
