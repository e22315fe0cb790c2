// "Select all N matching" on the Agents board applies to the whole filtered set on the server
// (POST /api/v1/agents/bulk-status with the board's filter), beyond the 500 cards of a page,
// in headless Chromium against the real server: a tenant of 3,000 agents seeded in bulk
// (lib/seed.mjs) beside the demo tenants.
// - a search finding 1,000 agents: select all, a dialog states the server's count, Cancel
//   changes nothing, Confirm changes all 1,000 and the board's counts follow live;
// - the status filter (750 online): the set changes between counting and confirming, the
//   server refuses (409) and the dialog states the new count, confirmed again;
// - the demo tenants are untouched.
// Screenshots in tests/artifacts/browser_bulk_filter/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until } from './lib/browser.mjs';
import { agentId, seedAgents } from './lib/seed.mjs';
import { api, login } from './lib/server.mjs';

const T = 'browser_bulk_filter';
const N = 3000;
const TAG = 0xb0b1;

describe('agents board: bulk change of every agent a filter finds', { timeout: 240000 }, () => {
  let server;
  let b;
  let token;
  let root;
  before(async () => {
    server = await startPanelServer();
    root = await rootApi(server.url);
    const client = (await root.post('/api/v1/clients', { name: 'Bulk Co', slug: 'bulk-co' })).row;
    await root.post('/api/v1/users', { email: 'admin@bulkco.test', name: 'Bulk admin', role: 'admin', client_id: client.id, password: 'bulk-password-1' });
    seedAgents(server.dbPath, { clientId: client.id, n: N, tag: TAG, domain: 'bulkco.test' });
    token = (await login(server.url, 'admin@bulkco.test', 'bulk-password-1')).access_token;
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  const counts = async (qs = '') => (await api(server.url, 'GET', `/api/v1/agents?limit=1&count_by=status${qs}`, { token })).json;
  // The demo tenants' agents (Acme, Globex) as id:status:version.
  const demoAgents = async () => {
    const out = [];
    for (const c of (await root.get('/api/v1/clients?limit=100')).data.filter((x) => x.slug !== 'bulk-co')) {
      for (const a of (await root.get(`/api/v1/agents?limit=500&client_id=${c.id}`)).data) out.push(`${a.id}:${a.status}:${a.version}`);
    }
    return out.sort();
  };

  it('select all 1,000 found by a search; then the status filter with a set that moves', { timeout: 200000 }, async () => {
    const demo0 = await demoAgents();
    assert.ok(demo0.length >= 8);
    const ctx = await b.newContext();
    ctx.setDefaultTimeout(30000);
    const page = await loginAs(ctx, server.url, 'admin@bulkco.test', { password: 'bulk-password-1' });
    await goPage(page, 'agents');
    await page.locator(`${tid('agents-count')}[data-total="${N}"]`).waitFor({ timeout: 20000 });

    // bulk2000..bulk2999: 1,000 agents, twice the board's page.
    await page.locator(tid('agents-search')).fill('bulk2');
    await page.locator(`${tid('agents-count')}[data-total="1000"]`).waitFor({ timeout: 20000 });
    assert.equal(await page.locator(tid('bulk-select-all')).innerText(), 'Select all 1000 matching');
    await page.locator(tid('bulk-select-all')).click();
    await page.locator(`${tid('bulk-selected')}[data-count="1000"][data-all="true"]`).waitFor();
    assert.equal(await page.locator(tid('bulk-selected')).innerText(), 'All 1000 matching selected');
    assert.ok(Number(await page.locator(tid('agents-count')).getAttribute('data-loaded')) <= 500, 'fewer cards loaded than selected');
    await page.locator(tid('bulk-status')).selectOption('offline');
    await page.locator(tid('bulk-reason')).fill('shift end');
    await page.locator(tid('bulk-apply')).click();
    await page.locator(`${tid('bulk-confirm-count')}[data-count="1000"]`).waitFor({ timeout: 15000 });
    assert.match(await page.locator(tid('bulk-confirm-count')).innerText(), /^Set 1000 agents to offline with the reason “shift end”\?$/);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'bulk-confirm-cancel', 'the safe choice has the focus');
    await shot(page, T, 'confirm');
    // Cancel: nothing changes, the selection stays.
    const before1 = await counts('&q=bulk2');
    await page.locator(tid('bulk-confirm-cancel')).click();
    await page.locator(`${tid('bulk-confirm-dialog')}[open]`).waitFor({ state: 'detached' });
    assert.deepEqual(await counts('&q=bulk2'), before1);
    await page.locator(`${tid('bulk-selected')}[data-count="1000"]`).waitFor();
    // Confirm: all 1,000 (not only the 500 loaded), the board follows live.
    await page.locator(tid('bulk-apply')).click();
    await page.locator(`${tid('bulk-confirm-count')}[data-count="1000"]`).waitFor({ timeout: 15000 });
    await page.locator(tid('bulk-confirm-apply')).click();
    await page.locator(`${tid('bulk-confirm-dialog')}[open]`).waitFor({ state: 'detached', timeout: 60000 });
    await page.locator(`${tid('bulk-selected')}[data-count="0"]`).waitFor();
    await page.locator(tid('toast'), { hasText: 'Status set to offline' }).waitFor({ timeout: 15000 });
    const after1 = await counts('&q=bulk2');
    assert.deepEqual(after1.counts, { offline: 1000 });
    assert.equal((await counts('&q=shift%20end')).total, 1000, 'every one got the reason');
    await until(async () => /^1000 agents · 0 online · 0 away · 0 busy · 1000 offline$/.test(await page.locator(tid('agents-count')).innerText()), { timeout: 20000 });
    assert.match(await page.locator(tid('agents-count')).innerText(), /^1000 agents · 0 online · 0 away · 0 busy · 1000 offline$/);
    await shot(page, T, 'applied');

    // The status filter: 500 online left (750 minus the 250 of bulk2xxx).
    await page.locator(tid('agents-search')).fill('');
    await page.locator(tid('agents-filter')).selectOption('online');
    await page.locator(`${tid('agents-count')}[data-total="500"]`).waitFor({ timeout: 20000 });
    await page.locator(tid('bulk-select-all')).click();
    await page.locator(`${tid('bulk-selected')}[data-count="500"][data-all="true"]`).waitFor();
    await page.locator(tid('bulk-status')).selectOption('busy');
    await page.locator(tid('bulk-reason')).fill('');
    await page.locator(tid('bulk-apply')).click();
    await page.locator(`${tid('bulk-confirm-count')}[data-count="500"]`).waitFor({ timeout: 15000 });
    // Meanwhile someone sets one of them away: the server refuses the stale count.
    const moved = agentId(TAG, 1); // i = 1: online
    const p = await api(server.url, 'PATCH', `/api/v1/agents/${moved}`, { token, body: { status: 'away', reason: 'elsewhere' } });
    assert.equal(p.status, 200, p.text);
    await page.locator(tid('bulk-confirm-apply')).click();
    await page.locator(`${tid('bulk-confirm-count')}[data-count="499"]`).waitFor({ timeout: 15000 });
    await page.locator(tid('bulk-confirm-changed')).waitFor();
    assert.equal((await counts('&status=online')).total, 499, 'nothing changed by the refused request');
    await shot(page, T, 'changed');
    await page.locator(tid('bulk-confirm-apply')).click();
    await page.locator(`${tid('bulk-confirm-dialog')}[open]`).waitFor({ state: 'detached', timeout: 60000 });
    assert.equal((await counts('&status=online')).total, 0);
    assert.deepEqual((await counts()).counts, { away: 501, busy: 999, offline: 1500 });
    await page.locator(`${tid('agents-count')}[data-total="0"]`).waitFor({ timeout: 20000 });
    const a1 = (await api(server.url, 'GET', `/api/v1/agents/${moved}`, { token })).json;
    assert.deepEqual([a1.status, a1.reason], ['away', 'elsewhere'], 'the agent that left the set is untouched');

    // Other tenants untouched.
    assert.deepEqual(await demoAgents(), demo0);
    assert.deepEqual(page.errors.filter((e) => !/status of 409/.test(e)), []);
    await ctx.close();
  });
});
