// The panel's session against the real server, in headless Chromium: with short-lived access
// tokens (--access-ttl 64s) the panel refreshes them ahead of expiry (rotation), hands the new
// token to realtime, and keeps receiving live events after the first token has expired (also
// across a reconnect, which must present the current token); a
// user disabled by an admin loses the panel (back to the login page). Screenshots in
// tests/artifacts/browser_session/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, sessionOf, shot, sleep, startPanelServer, tid, until } from './lib/browser.mjs';

const T = 'browser_session';
const TTL_S = 64;

describe('web panel: session', { timeout: 170000 }, () => {
  let server;
  let b;
  let demo;
  before(async () => {
    server = await startPanelServer({ args: ['--access-ttl', `${TTL_S}s`] });
    b = await launch();
    demo = await demoData(server.url);
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  it('refreshes tokens ahead of expiry and stays live after the first token expired', { timeout: 120000 }, async () => {
    const page = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    const t0 = Date.now();
    await goPage(page, 'agents');
    const first = await sessionOf(page);
    assert.ok(first.expires_at - Date.now() <= TTL_S * 1000 + 1000);
    // Refresh is scheduled expires_in - 60 s after login: about 4 s here.
    const refreshed = await until(async () => {
      const s = await sessionOf(page);
      return s && s.access_token !== first.access_token ? s : null;
    }, { timeout: 10000, interval: 200 });
    assert.ok(refreshed, 'the access token was refreshed');
    assert.notEqual(refreshed.refresh_token, first.refresh_token, 'refresh tokens rotate');
    // Wait past the first token's expiry; the panel keeps refreshing meanwhile.
    await sleep(Math.max(0, first.expires_at - Date.now() + 2000));
    assert.ok(Date.now() - t0 > TTL_S * 1000);
    const now = await sessionOf(page);
    assert.ok(now && now.expires_at > Date.now(), 'a valid token is held');
    assert.equal(await page.locator(tid('conn-status')).getAttribute('data-state'), 'connected');
    // Still live: a change made elsewhere arrives.
    const agent = demo.agents.find((a) => a.client_id === demo.clients.acme.id);
    const root = await rootApi(server.url);
    await root.patch(`/api/v1/agents/${agent.id}`, { status: 'busy', reason: 'after expiry' });
    await page.locator(`[data-testid="agent-row-${agent.id}"][data-status="busy"]`).waitFor({ timeout: 2000 });
    // A reconnect now must use the current token as apikey (the first one is expired).
    const before = page.errors.length;
    await server.stop();
    await page.locator(`${tid('conn-status')}[data-state="reconnecting"]`).waitFor({ timeout: 5000 });
    await server.start(server.port);
    await page.locator(tid('conn-retry')).click();
    await page.locator(`${tid('conn-status')}[data-state="connected"]`).waitFor({ timeout: 5000 });
    // While the server was down on purpose, a scheduled token refresh may have met a closed
    // port: the browser logs that itself. Only that is expected; anything else fails below.
    const down = page.errors.splice(before);
    assert.deepEqual(down.filter((e) => !/net::ERR_CONNECTION_REFUSED/.test(e)), []);
    const root2 = await rootApi(server.url);
    await root2.patch(`/api/v1/agents/${agent.id}`, { status: 'away', reason: 'after restart' });
    await page.locator(`[data-testid="agent-row-${agent.id}"][data-status="away"]`).waitFor({ timeout: 2000 });
    // And HTTP works with the current token (a page that fetches).
    await goPage(page, 'users');
    await page.locator('[data-testid^="user-row-"]').first().waitFor();
    assert.match(page.url(), /#\/users$/);
    await shot(page, T, 'users-after-expiry');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('a user disabled by an admin is signed out of the panel', { timeout: 30000 }, async () => {
    const viewer = demo.users.find((u) => u.email === 'viewer@acme.test');
    const page = await loginAs(await b.newContext(), server.url, 'viewer@acme.test');
    await goPage(page, 'messages');
    await page.locator('[data-testid^="message-row-"]').first().waitFor();
    const admin = await rootApi(server.url, 'admin@acme.test');
    const cur = (await admin.get(`/api/v1/users/${viewer.id}`)).row;
    await admin.patch(`/api/v1/users/${viewer.id}`, { status: 'disabled' }, { 'If-Match': String(cur.version) });
    // The server cuts the realtime channels; the panel notices and ends the session.
    await page.locator(tid('login-form')).waitFor({ timeout: 10000 });
    assert.equal(await sessionOf(page), null);
    await shot(page, T, 'disabled-signed-out');
    // Logging in again is refused.
    await page.locator(tid('login-email')).fill('viewer@acme.test');
    await page.locator(tid('login-password')).fill('demo-password');
    await page.locator(tid('login-submit')).click();
    await page.locator(tid('login-error')).waitFor({ state: 'visible' });
    await page.context().close();
  });
});
