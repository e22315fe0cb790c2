// Sorting, searching and totals of the panel's other lists in headless Chromium against the
// real server (demo data plus 130 agents seeded in bulk into Acme, lib/seed.mjs):
// - Users: the header count is the server's total, column headers sort on the server (and
//   say so with aria-sort), the search runs on the server, Load more pages in server order;
// - Clients: a header click sorts on the server;
// - Messages: the search box filters on the server (debounced);
// - Audit: filters by action, text, entity and date range, with the server's total; a range
//   whose start is after its end is refused at the form; past 10,000 matching entries (seeded
//   in bulk) the count reads "10,000+ entries";
// - phone width (390 px): no page scrolls sideways (wide tables scroll in their own box).
// Screenshots in tests/artifacts/browser_lists/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until } from './lib/browser.mjs';
import { seedAgents } from './lib/seed.mjs';

const T = 'browser_lists';
const N = 130;

describe('web panel: sortable, searchable lists with server totals', { timeout: 200000 }, () => {
  let server;
  let b;
  let demo;
  let root;
  before(async () => {
    server = await startPanelServer();
    demo = await demoData(server.url);
    root = await rootApi(server.url);
    seedAgents(server.dbPath, { clientId: demo.clients.acme.id, n: N, tag: 0x1157, domain: 'lists.test' });
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  const rowIds = (page, prefix) =>
    page.evaluate((p) => [...document.querySelectorAll(`[data-testid^="${p}"]`)].map((e) => e.dataset.testid.slice(p.length)), prefix);

  it('users: total, header sort both ways, server search, Load more', { timeout: 60000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'users');
    const acme = (await root.get(`/api/v1/users?client_id=${demo.clients.acme.id}&limit=1`)).total;
    assert.ok(acme > N, `acme has the seeded users (${acme})`);
    await page.locator(`${tid('users-count')}[data-total="${acme}"]`).waitFor();
    assert.match(await page.locator(tid('users-count')).innerText(), new RegExp(`^${acme} users · 50 shown$`));
    const byEmail = async (sort) => (await root.get(`/api/v1/users?client_id=${demo.clients.acme.id}&sort=${sort}&limit=50`)).data.map((u) => u.id);
    await until(async () => (await rowIds(page, 'user-row-')).length === 50);
    assert.deepEqual(await rowIds(page, 'user-row-'), await byEmail('email'), 'default: e-mail A-Z, the server order');
    const th = page.locator('th', { has: page.locator(tid('users-sort-email')) });
    assert.equal(await th.getAttribute('aria-sort'), 'ascending');

    // A second click on the e-mail header: descending, from the server.
    await page.locator(tid('users-sort-email')).click();
    const desc = await byEmail('-email');
    await until(async () => JSON.stringify(await rowIds(page, 'user-row-')) === JSON.stringify(desc), { timeout: 5000 });
    assert.deepEqual(await rowIds(page, 'user-row-'), desc);
    assert.equal(await th.getAttribute('aria-sort'), 'descending');
    // By role, with the keyboard.
    await page.locator(tid('users-sort-role')).focus();
    await page.keyboard.press('Enter');
    const byRole = await byEmail('role');
    await until(async () => JSON.stringify(await rowIds(page, 'user-row-')) === JSON.stringify(byRole), { timeout: 5000 });
    assert.equal(await page.locator('th', { has: page.locator(tid('users-sort-role')) }).getAttribute('aria-sort'), 'ascending');
    assert.equal(await th.getAttribute('aria-sort'), 'none');

    // Load more continues in the same order.
    await page.locator(tid('users-more')).click();
    const byRole100 = (await root.get(`/api/v1/users?client_id=${demo.clients.acme.id}&sort=role&limit=100`)).data.map((u) => u.id);
    await until(async () => (await rowIds(page, 'user-row-')).length === 100, { timeout: 5000 });
    assert.deepEqual(await rowIds(page, 'user-row-'), byRole100);
    assert.match(await page.locator(tid('users-count')).innerText(), / · 100 shown$/);

    // Search on the server (an e-mail the client has not loaded).
    await page.locator(tid('users-search')).fill('BULK0129@lists');
    await page.locator(tid('users-search')).press('Enter');
    await page.locator(`${tid('users-count')}[data-total="1"]`).waitFor({ timeout: 5000 });
    const ids = await rowIds(page, 'user-row-');
    assert.equal(ids.length, 1);
    assert.equal((await root.get(`/api/v1/users/${ids[0]}`)).email, 'bulk0129@lists.test');
    await page.locator(tid('users-search')).fill('nobody at all');
    await page.locator(tid('users-search')).press('Enter');
    await page.locator(tid('users-empty')).waitFor({ timeout: 5000 });
    await shot(page, T, 'users');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('clients: header sort on the server', { timeout: 30000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'root@demo.test');
    await goPage(page, 'clients');
    const total = (await root.get('/api/v1/clients?limit=1')).total;
    await page.locator(`${tid('clients-count')}[data-total="${total}"]`).waitFor();
    for (const sort of ['-slug', 'name', '-name', 'created_at']) {
      const col = sort.replace('-', '');
      const want = (await root.get(`/api/v1/clients?sort=${sort}`)).data.map((c) => c.id);
      for (let i = 0; i < 2 && (await page.locator('th', { has: page.locator(tid(`clients-sort-${col}`)) }).getAttribute('aria-sort')) !== (sort.startsWith('-') ? 'descending' : 'ascending'); i++) {
        await page.locator(tid(`clients-sort-${col}`)).click();
      }
      await until(async () => JSON.stringify(await rowIds(page, 'client-row-')) === JSON.stringify(want), { timeout: 5000 });
      assert.deepEqual(await rowIds(page, 'client-row-'), want, sort);
    }
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('messages: search on the server', { timeout: 30000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    const mine = (await root.get(`/api/v1/messages?client_id=${demo.clients.acme.id}&limit=500`)).data;
    const pick = mine[0];
    const word = pick.title.split(/\s+/).sort((x, y) => y.length - x.length)[0];
    const want = (await root.get(`/api/v1/messages?q=${encodeURIComponent(word)}&limit=500`)).data;
    await page.locator(`${tid('messages-shown')}:not([data-total=""])`).waitFor({ timeout: 10000 });
    const visible = (await rowIds(page, 'message-row-')).length;
    assert.ok(visible > 0);
    await page.locator(tid('messages-search')).fill(word);
    await page.locator(`${tid('messages-shown')}[data-total="${want.filter((m) => m.client_id === demo.clients.acme.id || m.client_id === null).length}"]`).waitFor({ timeout: 5000 });
    const ids = await rowIds(page, 'message-row-');
    assert.ok(ids.includes(pick.id), `"${word}" finds ${pick.title}`);
    assert.ok(ids.length <= visible);
    await page.locator(tid('messages-search')).fill('zzzz no such message');
    await page.locator(tid('messages-empty')).waitFor({ timeout: 5000 });
    assert.match(await page.locator(tid('messages-empty')).innerText(), /No messages match/);
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('phone width: no page is wider than the screen', { timeout: 60000 }, async () => {
    for (const [email, pages] of [['admin@acme.test', ['dashboard', 'agents', 'messages', 'users', 'audit', 'realtime']], ['root@demo.test', ['clients']]]) {
      const ctx = await b.newContext({ viewport: { width: 390, height: 844 } });
      const page = await loginAs(ctx, server.url, email);
      for (const p of pages) {
        await page.goto(`${server.url}/#/${p}`);
        await page.locator(tid(`page-${p}`)).waitFor();
        if (p !== 'realtime' && p !== 'dashboard') await page.locator(`${tid(`page-${p}`)} [data-testid$="-count"]:not([data-total=""]), ${tid('messages-shown')}`).first().waitFor();
        const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
        assert.ok(scroll <= client, `${p} at 390 px: ${scroll} px wide`);
      }
      assert.deepEqual(page.errors, []);
      await ctx.close();
    }
  });

  it('audit: action, text, entity and date range filters with the server total', { timeout: 40000 }, async () => {
    const admin = await rootApi(server.url, 'admin@acme.test');
    const api2 = async (path) => admin.get(path);
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'audit');
    await page.locator(`${tid('audit-count')}:not([data-total=""])`).waitFor();
    const actions = async () => page.evaluate(() => [...document.querySelectorAll('[data-testid^="audit-row-"] td:nth-child(4)')].map((td) => td.textContent));

    await page.locator(tid('audit-filter-action')).fill('auth.login');
    await page.locator(tid('audit-apply')).click();
    const logins = (await api2('/api/v1/audit?action=auth.login&limit=1')).total;
    assert.ok(logins >= 1);
    await page.locator(`${tid('audit-count')}[data-total="${logins}"]`).waitFor({ timeout: 5000 });
    assert.ok((await actions()).every((a) => a === 'auth.login'));

    await page.locator(tid('audit-filter-action')).fill('');
    await page.locator(tid('audit-filter-text')).fill('admin@acme');
    await page.locator(tid('audit-filter-entity')).selectOption('session');
    await page.locator(tid('audit-apply')).click();
    const byText = (await api2('/api/v1/audit?q=admin%40acme&entity_type=session&limit=1')).total;
    await page.locator(`${tid('audit-count')}[data-total="${byText}"]`).waitFor({ timeout: 5000 });

    // A range in the future: nothing; a range ending before it starts: refused at the form.
    await page.locator(tid('audit-filter-text')).fill('');
    await page.locator(tid('audit-filter-entity')).selectOption('');
    await page.locator(tid('audit-filter-from')).fill('2099-01-01T00:00:00');
    await page.locator(tid('audit-apply')).click();
    await page.locator(`${tid('audit-count')}[data-total="0"]`).waitFor({ timeout: 5000 });
    await page.locator(tid('audit-filter-to')).fill('2098-01-01T00:00:00');
    await page.locator(tid('audit-apply')).click();
    await page.locator(tid('audit-filter-error')).waitFor();
    await page.locator(tid('audit-filter-from')).fill('2000-01-01T00:00:00');
    await page.locator(tid('audit-filter-to')).fill('');
    await page.locator(tid('audit-apply')).click();
    const all = (await api2('/api/v1/audit?limit=1')).total;
    await page.locator(`${tid('audit-count')}[data-total="${all}"]`).waitFor({ timeout: 5000 });
    assert.equal(await page.locator(tid('audit-filter-error')).count(), 0);
    await shot(page, T, 'audit');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('audit: past 10,000 matching entries the count says "10,000+"', { timeout: 40000 }, async () => {
    // 10,050 entries for Acme in bulk (the server counts at most 10,000: total_capped).
    execFileSync('sqlite3', ['-cmd', '.timeout 10000', server.dbPath,
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10050)
       INSERT INTO audit_logs (id, at, client_id, action, entity_type, entity_id, prev_hash, hash)
       SELECT printf('00000000-0000-7000-8000-%012d', i),
              strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01T00:00:00Z', '+' || i || ' seconds'),
              '${demo.clients.acme.id}', 'test.bulk', 'client', '${demo.clients.acme.id}', 'x', 'x' FROM n`]);
    const admin = await rootApi(server.url, 'admin@acme.test');
    await until(async () => (await admin.get('/api/v1/audit?action=test.bulk&limit=1')).total_capped === true, { what: 'the seeded entries' });
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'audit');
    await page.locator(tid('audit-filter-action')).fill('test.bulk');
    await page.locator(tid('audit-apply')).click();
    const count = page.locator(`${tid('audit-count')}[data-capped="true"]`);
    await count.waitFor({ timeout: 5000 });
    assert.equal(await count.getAttribute('data-total'), '10000');
    assert.match(await count.textContent(), /^10,000\+ entries · \d+ shown$/);
    // Below the cap the count is exact again.
    await page.locator(tid('audit-filter-action')).fill('auth.login');
    await page.locator(tid('audit-apply')).click();
    const logins = (await admin.get('/api/v1/audit?action=auth.login&limit=1')).total;
    await page.locator(`${tid('audit-count')}[data-total="${logins}"][data-capped="false"]`).waitFor({ timeout: 5000 });
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });
});
