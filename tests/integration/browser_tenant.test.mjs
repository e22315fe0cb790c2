// Tenant isolation in the web panel, in headless Chromium against the real server: an Acme
// admin walks every page while Globex is busy (status changes, messages, user edits, a
// broadcast and presence on the same demo channel name), and never sees Globex data anywhere:
// not in the DOM, not in any HTTP response the panel receives, not in any WebSocket frame.
// Screenshots in tests/artifacts/browser_tenant/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, shot, sleep, startPanelServer, tid, until } from './lib/browser.mjs';

const T = 'browser_tenant';

// Everything the page receives: HTTP response bodies of /api and WebSocket frames.
function record(page) {
  const seen = { http: [], ws: [] };
  page.on('response', async (r) => {
    if (!r.url().includes('/api/')) return;
    try {
      seen.http.push({ url: r.url(), body: await r.text() });
    } catch {
      /* body gone (navigation) */
    }
  });
  page.on('websocket', (ws) => {
    ws.on('framereceived', (f) => seen.ws.push(String(f.payload)));
  });
  return seen;
}

function leaks(texts, needles) {
  const out = [];
  for (const t of texts) {
    const low = t.toLowerCase();
    for (const n of needles) if (low.includes(n.toLowerCase())) out.push(`${n} in ${t.slice(0, 300)}`);
  }
  return out;
}

describe('web panel: tenant isolation', { timeout: 170000 }, () => {
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

  it('an Acme admin never sees Globex data anywhere in the panel', { timeout: 120000 }, async () => {
    const globex = demo.clients.globex;
    const acme = demo.clients.acme;
    const gUsers = demo.users.filter((u) => u.client_id === globex.id);
    const gAgents = demo.agents.filter((a) => a.client_id === globex.id);
    const gMessages = demo.messages.filter((m) => m.client_id === globex.id);
    assert.ok(gUsers.length >= 4 && gAgents.length === 3 && gMessages.length >= 1);
    const marker = `globex-secret-${Date.now()}`;
    // Anything that identifies Globex: its name/slug, ids, emails, display names, titles.
    const needles = [
      'globex',
      globex.id,
      ...gUsers.map((u) => u.id),
      ...gAgents.map((a) => a.id),
      ...gMessages.map((m) => m.id),
      ...gMessages.map((m) => m.title),
    ];

    const ctxA = await b.newContext();
    const ctxG = await b.newContext();
    // The Globex admin is in the same demo channel as the Acme admin will be.
    const g = await loginAs(ctxG, server.url, 'admin@globex.test');
    await goPage(g, 'realtime');
    await g.locator(tid('bc-channel')).fill('demo-room');
    await g.locator(tid('bc-join')).click();
    await g.locator(`${tid('bc-status')}[data-state="SUBSCRIBED"]`).waitFor();

    // The Acme admin's page is recorded from before the login on.
    let seenA;
    const a = await loginAs(ctxA, server.url, 'admin@acme.test', { onPage: (p) => (seenA = record(p)) });
    const domTexts = [];
    const grab = async (name) => {
      await a.waitForLoadState('networkidle').catch(() => {});
      domTexts.push(await a.locator('body').innerText());
      domTexts.push(await a.evaluate(() => [...document.querySelectorAll('[data-testid]')].map((e) => e.outerHTML.slice(0, 200)).join('\n')));
      await shot(a, T, `acme-${name}`);
    };

    // Acme's own pages, with the realtime demo listening to every table and the demo room.
    await goPage(a, 'realtime');
    await a.locator(tid('rt-table')).selectOption('*');
    await a.locator(tid('rt-subscribe')).click();
    await a.locator(`${tid('rt-sub-status')}[data-state="SUBSCRIBED"]`).waitFor();
    await a.locator(tid('bc-channel')).fill('demo-room');
    await a.locator(tid('bc-join')).click();
    await a.locator(`${tid('bc-status')}[data-state="SUBSCRIBED"]`).waitFor();

    // Globex activity: through the Globex admin's panel and the API.
    await g.locator(tid('bc-payload')).fill(JSON.stringify({ text: marker }));
    await g.locator(tid('bc-send')).click();
    await g.locator(`${tid('bc-received-item')}`).first().waitFor(); // self:true: Globex sees its own
    const gApi = await rootApi(server.url, 'admin@globex.test');
    const root = await rootApi(server.url);
    await gApi.patch(`/api/v1/agents/${gAgents[0].id}`, { status: 'busy', reason: marker });
    await gApi.post('/api/v1/messages', { title: `Globex only ${marker}`, body: marker, priority: 'critical' });
    const gm = (await root.post('/api/v1/messages', { title: `Globex from root ${marker}`, body: marker, client_id: globex.id, priority: 'high' })).row;
    const gUser = gUsers.find((u) => u.role === 'agent');
    await gApi.patch(`/api/v1/users/${gUser.id}`, { name: `Globex renamed ${marker}` });
    // Acme activity in the same window, which the Acme admin must see (the test can fail).
    const acmeAgent = demo.agents.find((x) => x.client_id === acme.id);
    await root.patch(`/api/v1/agents/${acmeAgent.id}`, { status: 'away', reason: 'acme-visible' });
    await a.locator(`${tid('rt-event-item')}[data-table="agent_status"]`).first().waitFor({ timeout: 3000 });
    await sleep(1500); // give any stray Globex event time to arrive
    await grab('realtime');
    const items = await a.locator(tid('rt-event-item')).allInnerTexts();
    assert.ok(items.some((t) => t.includes('acme-visible')), 'Acme events are delivered');
    assert.equal(await a.locator(`${tid('presence-item')}[data-key="admin@globex.test"]`).count(), 0, 'no Globex presence');
    assert.equal(await a.locator(`${tid('presence-item')}[data-key="admin@acme.test"]`).count(), 1, 'own presence shown');
    assert.equal(await a.locator(tid('bc-received-item')).count(), 0, 'no Globex broadcast');

    for (const name of ['dashboard', 'agents', 'messages', 'users', 'audit']) {
      await goPage(a, name);
      const ready = {
        dashboard: `${tid('dash-live')}[data-state="SUBSCRIBED"]`,
        agents: `${tid('agents-list')} [data-testid^="agent-row-"]`,
        messages: `${tid('messages-list')} [data-testid^="message-row-"]`,
        users: `${tid('users-table')} [data-testid^="user-row-"]`,
        audit: `${tid('audit-table')} [data-testid^="audit-row-"]`,
      }[name];
      await a.locator(ready).first().waitFor();
      await grab(name);
    }
    // What Acme does see: its 5 agents, its users, own + global messages only.
    await goPage(a, 'agents');
    await until(async () => (await a.locator('[data-testid^="agent-row-"]').count()) === 5);
    assert.equal(await a.locator('[data-testid^="agent-row-"]').count(), 5);
    await goPage(a, 'messages');
    const msgRows = await a.locator('[data-testid^="message-row-"]').evaluateAll((els) => els.map((e) => e.dataset.testid.slice(12)));
    const visible = new Set(demo.messages.filter((m) => m.client_id === acme.id || m.client_id === null).map((m) => m.id));
    assert.deepEqual(msgRows.filter((id) => !visible.has(id)), []);
    // The clients page is not offered and its route falls back.
    assert.equal(await a.locator(tid('nav-clients')).count(), 0);
    await a.evaluate(() => {
      location.hash = '#/clients';
    });
    await until(async () => /#\/dashboard$/.test(a.url()));
    assert.match(a.url(), /#\/dashboard$/);
    // Direct reads of Globex rows with the panel's own session answer 404 (no existence leak).
    const codes = await a.evaluate(
      async (paths) => {
        const s = JSON.parse(sessionStorage.getItem('switchboard.session'));
        const out = [];
        for (const p of paths) {
          const r = await fetch(p, { headers: { Authorization: `Bearer ${s.access_token}` } });
          out.push(r.status);
        }
        return out;
      },
      [`/api/v1/messages/${gm.id}`, `/api/v1/agents/${gAgents[0].id}`, `/api/v1/users/${gUser.id}`, `/api/v1/clients/${globex.id}`]
    );
    for (const c of codes) assert.ok(c === 404 || c === 403, `Globex row readable: ${codes}`);
    assert.equal(codes[0], 404);

    const found = [
      ...leaks(domTexts, [...needles, marker]),
      ...leaks(seenA.http.filter((h) => !h.url.includes('/api/v1/clients/')).map((h) => `${h.url} ${h.body}`), [...needles, marker]),
      ...leaks(seenA.ws, [...needles, marker]),
    ];
    assert.deepEqual(found, [], 'Globex data reached the Acme admin');
    assert.ok(seenA.ws.length > 5 && seenA.http.length > 5, 'traffic was recorded');
    // The Globex admin, for contrast, saw the Globex message live.
    await goPage(g, 'messages');
    await g.locator(`${tid('messages-list')} li`, { hasText: `Globex from root ${marker}` }).waitFor();
    await shot(g, T, 'globex-messages');
    // The only console errors are the four 404s of the direct reads above.
    assert.deepEqual(a.errors.filter((e) => !/status of 404/.test(e)), []);
    await ctxA.close();
    await ctxG.close();
  });
});
