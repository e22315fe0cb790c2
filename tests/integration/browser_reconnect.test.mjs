// Web panel across server restarts, in headless Chromium against the real server: kill the
// server (SIGKILL), the indicator shows "reconnecting" with a countdown; change data in the
// database while it is down; start it again on the same port and database: the indicator is
// connected again without a page reload and the lists show the changes made meanwhile. A
// second, graceful stop checks the Retry button. Screenshots in tests/artifacts/browser_reconnect/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until, waitConn } from './lib/browser.mjs';

const T = 'browser_reconnect';

// Direct SQL on the stopped server's database (the triggers record the changes).
function sql(dbPath, query) {
  execFileSync('sqlite3', ['-cmd', '.timeout 5000', dbPath, query], { encoding: 'utf8' });
}
const q = (s) => `'${String(s).replace(/'/g, "''")}'`;

describe('web panel: server restarts', { timeout: 170000 }, () => {
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

  it('shows reconnecting while the server is down and catches up after it is back', { timeout: 90000 }, async () => {
    const acme = demo.clients.acme.id;
    const msg = demo.messages.find((m) => m.client_id === acme);
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    await page.locator(`[data-testid="message-row-${msg.id}"]`).waitFor();
    const ctx2 = await b.newContext();
    const users = await loginAs(ctx2, server.url, 'admin@acme.test');
    await goPage(users, 'users');
    const viewer = demo.users.find((u) => u.email === 'viewer@acme.test');
    await users.locator(`[data-testid="user-row-${viewer.id}"]`).waitFor();

    // Kill the server hard.
    await server.stop('SIGKILL');
    for (const p of [page, users]) await waitConn(p, 'reconnecting', 5000);
    await page.locator(tid('conn-countdown')).waitFor();
    assert.match(await page.locator(tid('conn-countdown')).getAttribute('data-seconds'), /^\d+$/);
    assert.equal(await page.locator(tid('conn-retry')).isVisible(), true);
    await page.locator(`${tid('toast')}[data-kind="connection"], ${tid('toast')}[data-kind="summary"]`).first().waitFor({ timeout: 3000 });
    await shot(page, T, 'messages-reconnecting');
    await shot(users, T, 'users-reconnecting');
    // It keeps retrying (attempt number grows) while the server is down.
    await until(async () => Number(await page.locator(tid('conn-status')).getAttribute('data-attempt')) >= 2, { timeout: 6000 });
    assert.ok(Number(await page.locator(tid('conn-status')).getAttribute('data-attempt')) >= 2);

    // Changes while it is down, straight into the database.
    const newId = randomUUID();
    const now = new Date().toISOString();
    sql(
      server.dbPath,
      `UPDATE system_messages SET title = 'Changed while down', version = version + 1, updated_at = ${q(now)} WHERE id = ${q(msg.id)};` +
        `INSERT INTO system_messages (id, client_id, title, body, priority, state) VALUES (${q(newId)}, ${q(acme)}, 'Created while down', 'sql', 'critical', 'active');` +
        `UPDATE users SET name = 'Renamed while down', version = version + 1, updated_at = ${q(now)} WHERE id = ${q(viewer.id)};`
    );

    const downAt = Date.now();
    await server.start(server.port);
    for (const p of [page, users]) await waitConn(p, 'connected', 15000);
    const backAfter = Date.now() - downAt;
    await page.locator(`[data-testid="message-row-${newId}"]`).waitFor({ timeout: 5000 });
    await until(async () => (await page.locator(tid(`message-title-${msg.id}`)).innerText()) === 'Changed while down', { timeout: 5000 });
    assert.equal(await page.locator(tid(`message-title-${msg.id}`)).innerText(), 'Changed while down');
    assert.equal(await page.locator(tid(`message-title-${newId}`)).innerText(), 'Created while down');
    await until(async () => (await users.locator(tid(`user-name-${viewer.id}`)).innerText()) === 'Renamed while down', { timeout: 5000 });
    assert.equal(await users.locator(tid(`user-name-${viewer.id}`)).innerText(), 'Renamed while down');
    assert.equal(await page.locator(tid('conn-retry')).count(), 0);
    await shot(page, T, 'messages-reconnected');
    await shot(users, T, 'users-reconnected');

    // Live again: a change through the API after the restart arrives without a refetch.
    const root = await rootApi(server.url);
    const cur = (await root.get(`/api/v1/messages/${msg.id}`)).row;
    await root.patch(`/api/v1/messages/${msg.id}`, { title: 'Live after restart' }, { 'If-Match': String(cur.version) });
    await until(async () => (await page.locator(tid(`message-title-${msg.id}`)).innerText()) === 'Live after restart', { timeout: 2000 });
    assert.equal(await page.locator(tid(`message-title-${msg.id}`)).innerText(), 'Live after restart');
    // The session (tokens) survived: the panel is still signed in, no reload happened.
    assert.match(page.url(), /#\/messages$/);
    assert.deepEqual(
      page.errors.filter((e) => !/ERR_CONNECTION_REFUSED|WebSocket|Failed to load resource/.test(e)),
      [],
      `page errors (reconnected after ${backAfter} ms)`
    );
    await ctx.close();
    await ctx2.close();
  });

  it('the Retry button reconnects at once after a graceful restart', { timeout: 60000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'agents');
    const agent = demo.agents.find((a) => a.client_id === demo.clients.acme.id);
    await page.locator(`[data-testid="agent-row-${agent.id}"]`).waitFor();
    await server.stop('SIGTERM');
    await waitConn(page, 'reconnecting', 5000);
    // Let the back-off grow so that the next automatic try is several seconds away.
    await until(async () => Number(await page.locator(tid('conn-status')).getAttribute('data-attempt')) >= 3, { timeout: 12000 });
    // A change while down, then the server is back.
    sql(server.dbPath, `UPDATE agent_status SET display_name = 'Renamed Agent', version = version + 1 WHERE id = ${q(agent.id)};`);
    await server.start(server.port);
    await waitConn(page, 'reconnecting', 5000);
    const t0 = Date.now();
    await page.locator(tid('conn-retry')).click();
    await waitConn(page, 'connected', 3000);
    assert.ok(Date.now() - t0 < 3000, 'connected right after Retry');
    await page.locator(`[data-testid="agent-row-${agent.id}"]`, { hasText: 'Renamed Agent' }).waitFor({ timeout: 5000 });
    await shot(page, T, 'agents-after-retry');
    await ctx.close();
  });
});
