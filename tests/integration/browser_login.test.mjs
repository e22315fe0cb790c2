// Web panel in headless Chromium against the real server: login (right and wrong password),
// landing page per role, logout, and every page of the panel rendered live for the super
// admin (desktop and phone width) with a screenshot each in tests/artifacts/browser_login/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { goPage, launch, loginAs, sessionOf, shot, startPanelServer, tid, until, waitConn } from './lib/browser.mjs';

const T = 'browser_login';
const PAGES = ['dashboard', 'agents', 'messages', 'clients', 'users', 'audit', 'realtime'];

describe('web panel: login and pages', { timeout: 150000 }, () => {
  let server;
  let b;
  before(async () => {
    server = await startPanelServer();
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  it('the binary serves the built panel (web/dist) with a strict CSP', { timeout: 20000 }, async () => {
    const dist = new URL('../../web/dist/', import.meta.url).pathname;
    for (const f of ['index.html', 'app.js', 'app.css', 'favicon.svg']) {
      const r = await fetch(`${server.url}/${f}`);
      assert.equal(r.status, 200, f);
      const body = Buffer.from(await r.arrayBuffer());
      assert.ok(body.equals(readFileSync(dist + f)), `${f} served by the binary equals web/dist/${f} (rebuild the binary after the panel)`);
    }
    const r = await fetch(`${server.url}/`);
    const csp = r.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'self'|script-src 'self'/, `CSP: ${csp}`);
    assert.doesNotMatch(csp, /unsafe-inline[^;]*script|script-src[^;]*unsafe-inline/);
  });

  it('a wrong password shows an error and no session', { timeout: 30000 }, async () => {
    const ctx = await b.newContext();
    const page = await ctx.newPage();
    await page.goto(`${server.url}/`);
    await page.locator(tid('login-form')).waitFor();
    assert.match(page.url(), /#\/login$/);
    await shot(page, T, 'login');
    await page.locator(tid('login-email')).fill('admin@acme.test');
    await page.locator(tid('login-password')).fill('not-the-password');
    await page.locator(tid('login-submit')).click();
    const err = page.locator(tid('login-error'));
    await err.waitFor({ state: 'visible' });
    assert.equal(await err.getAttribute('role'), 'alert');
    assert.match(await err.innerText(), /wrong email or password/i);
    assert.equal(await sessionOf(page), null);
    assert.equal(await page.locator(tid('current-user')).count(), 0);
    await shot(page, T, 'login-wrong-password');
    // An unknown account reads the same (no account enumeration in the UI).
    await page.locator(tid('login-email')).fill('nobody@acme.test');
    await page.locator(tid('login-submit')).click();
    await until(async () => /wrong email or password/i.test(await err.innerText()));
    assert.match(await err.innerText(), /wrong email or password/i);
    // A protected route without a session goes back to the login page.
    await page.goto(`${server.url}/#/users`);
    await page.locator(tid('login-form')).waitFor();
    assert.match(page.url(), /#\/login$/);
    await ctx.close();
  });

  it('logs in, lands by role, survives a reload, logs out', { timeout: 40000 }, async () => {
    const ctx = await b.newContext();
    const admin = await loginAs(ctx, server.url, 'admin@acme.test');
    assert.match(admin.url(), /#\/dashboard$/);
    assert.equal(await admin.locator(tid('current-user')).getAttribute('data-role'), 'admin');
    assert.equal(await admin.locator(tid('nav-clients')).count(), 0, 'admins have no clients page');
    const s = await sessionOf(admin);
    assert.ok(s.access_token && s.refresh_token && s.expires_at > Date.now());
    assert.equal(s.user.email, 'admin@acme.test');
    // A reload keeps the session (sessionStorage) and reconnects realtime.
    await admin.reload();
    await admin.locator(tid('page-dashboard')).waitFor();
    await waitConn(admin, 'connected');
    // A route the role may not see redirects to the first allowed page.
    await admin.evaluate(() => {
      location.hash = '#/clients';
    });
    await until(async () => /#\/dashboard$/.test(admin.url()));
    assert.match(admin.url(), /#\/dashboard$/);
    // Logout revokes the refresh token on the server and clears the session.
    const refreshToken = (await sessionOf(admin)).refresh_token;
    await admin.locator(tid('logout')).click();
    await admin.locator(tid('login-form')).waitFor();
    assert.equal(await sessionOf(admin), null);
    const r = await fetch(`${server.url}/api/v1/auth/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    assert.equal(r.status, 401, 'refresh token revoked by logout');
    assert.deepEqual(admin.errors, []);

    const agent = await loginAs(ctx, server.url, 'agent1@acme.test');
    assert.match(agent.url(), /#\/agents$/);
    const nav = await agent.locator('nav [data-testid^="nav-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
    assert.deepEqual(nav, ['nav-agents', 'nav-messages', 'nav-realtime', 'nav-settings']);
    await shot(agent, T, 'agent-landing');
    await ctx.close();
  });

  it('every page renders live for the super admin', { timeout: 60000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'root@demo.test');
    for (const name of PAGES) {
      await goPage(page, name);
      assert.equal(await page.locator(tid(`nav-${name}`)).getAttribute('aria-current'), 'page');
      // Wait for the page's data to be there before the screenshot.
      const ready = {
        dashboard: `${tid('dash-live')}[data-state="SUBSCRIBED"]`,
        agents: `${tid('agents-list')} [data-testid^="agent-row-"]`,
        messages: `${tid('messages-list')} [data-testid^="message-row-"]`,
        clients: `${tid('clients-table')} [data-testid^="client-row-"]`,
        users: `${tid('users-table')} [data-testid^="user-row-"]`,
        audit: `${tid('audit-table')} [data-testid^="audit-row-"]`,
        realtime: tid('rt-subscribe'),
      }[name];
      await page.locator(ready).first().waitFor();
      await page.waitForLoadState('networkidle').catch(() => {});
      await shot(page, T, `root-${name}`);
    }
    // Figures and rows the demo data implies.
    await goPage(page, 'agents');
    await until(async () => (await page.locator('[data-testid^="agent-row-"]').count()) === 8);
    assert.equal(await page.locator('[data-testid^="agent-row-"]').count(), 8, '5 Acme + 3 Globex agents');
    await goPage(page, 'clients');
    await until(async () => (await page.locator('[data-testid^="client-row-"]').count()) === 2);
    assert.equal(await page.locator('[data-testid^="client-row-"]').count(), 2);
    await goPage(page, 'audit');
    await page.locator(tid('audit-verify')).click();
    await page.locator(`${tid('audit-verify-result')}[data-ok="true"]`).waitFor();
    await shot(page, T, 'root-audit-verified');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('works at phone width behind the menu button', { timeout: 30000 }, async () => {
    const ctx = await b.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await shot(page, T, 'phone-dashboard');
    assert.equal(await page.locator(tid('nav-agents')).isVisible(), false, 'nav collapsed');
    await page.locator(tid('nav-toggle')).click();
    await page.locator(tid('nav-agents')).waitFor({ state: 'visible' });
    await shot(page, T, 'phone-menu');
    await page.locator(tid('nav-agents')).click();
    await page.locator(`${tid('page-agents')} [data-testid^="agent-row-"]`).first().waitFor();
    await shot(page, T, 'phone-agents');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });
});
