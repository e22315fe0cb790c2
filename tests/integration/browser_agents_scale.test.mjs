// The Agents board with a tenant of 5,000 agents (seeded in bulk straight into the SQLite file,
// lib/seed.mjs) in headless Chromium against the real server:
// - the header shows the server's total ("5000 agents · 1250 online ...") and never
//   "0 agents" while loading; only the cards in view are in the DOM;
// - agent #5000 is reached by scrolling (pages load as the board nears its end) and by
//   search (name and e-mail, server-side), and the sort control reorders on the server;
// - "select all matching" + a bulk change confirmed in a dialog with the server's count;
// - a live status change of agent #5000 arrives on its card and in the counts; a status picked
//   on its card without a reason clears the old reason.
// Screenshots in tests/artifacts/browser_agents_scale/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until } from './lib/browser.mjs';
import { agentId, seedAgents, seedName } from './lib/seed.mjs';
import { api, login } from './lib/server.mjs';

const T = 'browser_agents_scale';
const N = 5000;
const TAG = 0x5ca1e;

describe('agents board with 5,000 agents', { timeout: 240000 }, () => {
  let server;
  let b;
  let adminToken;
  const last = agentId(TAG, N);
  const card = `[data-testid="agent-row-${last}"]`;

  before(async () => {
    server = await startPanelServer();
    const root = await rootApi(server.url);
    const client = (await root.post('/api/v1/clients', { name: 'Scale Co', slug: 'scale-co' })).row;
    await root.post('/api/v1/users', { email: 'admin@scale.test', name: 'Scale admin', role: 'admin', client_id: client.id, password: 'scale-password-1' });
    seedAgents(server.dbPath, { clientId: client.id, n: N, tag: TAG, domain: 'scale.test' });
    adminToken = (await login(server.url, 'admin@scale.test', 'scale-password-1')).access_token;
    const r = await api(server.url, 'GET', '/api/v1/agents?limit=1', { token: adminToken });
    assert.equal(r.json.total, N, 'the seed is visible through the API');
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  async function setStatus(status, reason) {
    const r = await api(server.url, 'PATCH', `/api/v1/agents/${last}`, { token: adminToken, body: { status, reason } });
    assert.equal(r.status, 200, r.text);
    return r.json;
  }
  const countOf = async (page) => page.locator(tid('agents-count')).evaluate((e) => ({ ...e.dataset, text: e.textContent }));
  // Scrolls the board down until selector is rendered (bounded in steps and time).
  async function scrollTo(page, selector, ms = 90000) {
    const scroller = page.locator(tid('agents-scroll'));
    const t0 = Date.now();
    for (let i = 0; i < 1000 && !(await page.locator(selector).count()); i++) {
      assert.ok(Date.now() - t0 < ms, `${selector} reached by scrolling within ${ms} ms`);
      await scroller.evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await page.waitForTimeout(50);
    }
    await page.locator(selector).waitFor({ timeout: 15000 });
  }
  const rendered = async (page) => page.locator(`${tid('agents-list')} > li`).count();

  it('shows every agent: total, scrolling, search, sort, live updates', { timeout: 200000 }, async () => {
    const ctx = await b.newContext();
    // A board of 5,000 on a shared machine (and under ASan): generous but bounded waits.
    ctx.setDefaultTimeout(30000);
    // Every text the header ever shows, from the first paint on.
    await ctx.addInitScript(() => {
      window.__countTexts = [];
      new MutationObserver(() => {
        const el = document.querySelector('[data-testid="agents-count"]');
        const t = el && el.textContent;
        if (t && window.__countTexts[window.__countTexts.length - 1] !== t) window.__countTexts.push(t);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    const page = await loginAs(ctx, server.url, 'admin@scale.test', { password: 'scale-password-1' });
    await goPage(page, 'agents');
    await page.locator(`${tid('agents-count')}[data-total="${N}"]`).waitFor({ timeout: 15000 });
    let c = await countOf(page);
    assert.match(c.text, /^5000 agents · 1250 online · 1250 away · 1250 busy · 1250 offline$/);
    assert.equal(c.online, '1250');
    const texts = await page.evaluate(() => window.__countTexts);
    assert.ok(!texts.some((t) => /\b0 agents\b/.test(t)), `never "0 agents" while loading: ${JSON.stringify(texts)}`);
    const first = await rendered(page);
    assert.ok(first > 0 && first < 150, `only the cards in view are rendered (${first})`);
    await shot(page, T, 'top');

    // Keyboard: the board's scroll box takes the focus and scrolls with PageDown / Home (the
    // window follows), and Tab goes on into the first card.
    await page.locator(tid('agents-scroll')).focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('PageDown');
    await until(async () => Number(await page.locator(tid('agents-list')).getAttribute('data-start')) > 0, { timeout: 15000 });
    assert.ok(Number(await page.locator(tid('agents-list')).getAttribute('data-start')) > 0, 'PageDown moved the window');
    await page.keyboard.press('Home');
    await until(async () => (await page.locator(tid('agents-list')).getAttribute('data-start')) === '0', { timeout: 15000 });
    await page.keyboard.press('Tab');
    const inCard = await page.evaluate(() => !!document.activeElement.closest('[data-testid^="agent-row-"]'));
    assert.ok(inCard, 'Tab from the board goes into the first card');

    // Scroll to the end: pages load as the board nears its end; bounded in steps and time.
    await scrollTo(page, card);
    assert.equal(await page.locator(`${card} .agent-name`).innerText(), seedName(N));
    c = await countOf(page);
    assert.equal(c.loaded, String(N), 'every agent loaded');
    assert.equal(c.total, String(N));
    const atEnd = await rendered(page);
    assert.ok(atEnd < 150, `still only the cards in view at the end (${atEnd})`);
    assert.ok(await page.locator(card).isVisible());
    await shot(page, T, 'end');

    // A live change of agent #5000 reaches its card and the counts.
    const st = (await page.locator(card).getAttribute('data-status')) === 'busy' ? 'away' : 'busy';
    const before = await countOf(page);
    await setStatus(st, 'scale check');
    await page.locator(`${card}[data-status="${st}"]`).waitFor({ timeout: 15000 });
    await page.locator(tid(`agent-reason-${last}`)).waitFor({ timeout: 15000 });
    assert.equal(await page.locator(tid(`agent-reason-${last}`)).innerText(), 'scale check');
    await until(async () => (await countOf(page)).text !== before.text, { timeout: 15000 });
    assert.match((await countOf(page)).text, st === 'busy' ? /1251 busy/ : /1251 away/);
    // A status picked on the card, without a reason, clears the old reason.
    await page.locator(tid(`agent-status-${last}`)).selectOption('offline');
    await page.locator(`${card}[data-status="offline"]:not(.pending)`).waitFor({ timeout: 15000 });
    await page.locator(tid(`agent-reason-${last}`)).waitFor({ state: 'detached', timeout: 15000 });
    const now = await api(server.url, 'GET', `/api/v1/agents/${last}`, { token: adminToken });
    assert.deepEqual([now.json.status, now.json.reason], ['offline', null]);

    // Search on the server: by name, then by e-mail.
    await page.locator(tid('agents-search')).fill('agent 5000');
    await page.locator(`${tid('agents-count')}[data-total="1"]`).waitFor({ timeout: 15000 });
    await page.locator(card).waitFor();
    assert.equal(await rendered(page), 1);
    assert.match((await countOf(page)).text, /^1 agent · /);
    await page.locator(tid('agents-search')).fill('BULK4999@scale');
    await page.locator(`${tid('agents-count')}[data-total="1"]`).waitFor({ timeout: 15000 });
    await page.locator(`[data-testid="agent-row-${agentId(TAG, 4999)}"]`).waitFor({ timeout: 15000 });
    await page.locator(tid('agents-search')).fill('no such agent');
    await page.locator(`${tid('agents-count')}[data-total="0"]`).waitFor({ timeout: 15000 });
    await page.locator(tid('agents-empty')).waitFor();
    await page.locator(tid('agents-search')).fill('00@scale');
    await page.locator(`${tid('agents-count')}[data-total="50"]`).waitFor({ timeout: 15000 }); // bulk0100..bulk5000
    await scrollTo(page, card, 10000);
    // Live while searching.
    await setStatus('online', 'back');
    await page.locator(`${card}[data-status="online"]`).waitFor({ timeout: 15000 });
    await shot(page, T, 'search');

    // Bulk: "select all matching" takes the 50 found by the server (not only the cards in view)
    // and the change asks to confirm in a dialog stating the server's count before it applies.
    assert.equal(await page.locator(tid('bulk-select-all')).innerText(), 'Select all 50 matching');
    await page.locator(tid('bulk-select-all')).click();
    await page.locator(`${tid('bulk-selected')}[data-count="50"]`).waitFor({ timeout: 15000 });
    await page.locator(tid('bulk-status')).selectOption('busy');
    await page.locator(tid('bulk-apply')).click();
    await page.locator(`${tid('bulk-confirm-count')}[data-count="50"]`).waitFor({ timeout: 15000 });
    assert.equal(await page.locator(tid('bulk-confirm-apply')).innerText(), 'Set 50 agents to busy');
    await page.locator(tid('bulk-confirm-apply')).click();
    await page.locator(`${tid('bulk-selected')}[data-count="0"]`).waitFor({ timeout: 15000 });
    const found = await api(server.url, 'GET', '/api/v1/agents?q=00%40scale&count_by=status', { token: adminToken });
    assert.deepEqual(found.json.counts, { busy: 50 });
    await until(async () => /^50 agents · 0 online · 0 away · 50 busy · 0 offline$/.test((await countOf(page)).text), { timeout: 15000 });
    assert.match((await countOf(page)).text, /^50 agents · 0 online · 0 away · 50 busy · 0 offline$/);
    // With the whole tenant matching, select-all takes all 5,000 (applied by filter on the
    // server: browser_bulk_filter).
    await page.locator(tid('agents-search')).fill('');
    await page.locator(`${tid('agents-count')}[data-total="${N}"]`).waitFor({ timeout: 15000 });
    assert.equal(await page.locator(tid('bulk-select-all')).isDisabled(), false);
    assert.equal(await page.locator(tid('bulk-select-all')).innerText(), `Select all ${N} matching`);

    // Sort on the server: name Z–A puts #5000 first with the search cleared.
    await page.locator(tid('agents-sort')).selectOption('-display_name');
    await until(async () => (await page.locator(`${tid('agents-list')} > li`).first().getAttribute('data-testid')) === `agent-row-${last}`, { timeout: 15000 });
    assert.equal(await page.locator(`${tid('agents-list')} > li`).first().getAttribute('data-testid'), `agent-row-${last}`);
    await page.locator(tid('agents-sort')).selectOption('status');
    await until(async () => (await page.locator(`${tid('agents-list')} > li`).first().getAttribute('data-status')) === 'away', { timeout: 15000 });
    assert.equal(await page.locator(`${tid('agents-list')} > li`).first().getAttribute('data-status'), 'away');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });
});
