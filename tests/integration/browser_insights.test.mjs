// Issue 6 in headless Chromium against the real server: the dashboard's chart of the last
// minutes grows with pushed metrics and highlights significant changes; the agents board shows
// statistics per agent (detail panel) and per client, with the time in status ticking; the
// message statistics come from GET /api/v1/messages/stats; "Log out everywhere" ends the
// user's other browser session while another user's stays. Screenshots in
// tests/artifacts/browser_insights/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { api, login } from './lib/server.mjs';
import { demoData, goPage, launch, loginAs, rootApi, sessionOf, shot, sleep, startPanelServer, tid, until, waitConn } from './lib/browser.mjs';

const T = 'browser_insights';
const attr = (page, id, name) => page.locator(tid(id)).getAttribute(name);
const points = async (page) => Number(await attr(page, 'dash-chart', 'data-points'));

// Console errors a revoked session legitimately causes (401 answers, refused reconnects).
const expected = (e) => /401|Unauthorized|WebSocket/i.test(e);

describe('web panel: insights (issue 6)', { timeout: 115000 }, () => {
  let server;
  let b;
  let demo;
  let acmeAgents;
  before(async () => {
    server = await startPanelServer();
    b = await launch();
    demo = await demoData(server.url);
    acmeAgents = demo.agents.filter((a) => a.client_id === demo.clients.acme.id).sort((x, y) => x.id.localeCompare(y.id));
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  it('dashboard: the chart gains points from pushed metrics; significant flags are highlighted', { timeout: 40000 }, async () => {
    const page = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    await page.locator(`${tid('dash-live')}[data-state="SUBSCRIBED"]`).waitFor();
    await until(async () => (await points(page)) >= 1);
    const p0 = await points(page);
    assert.ok(p0 >= 1, 'the initial snapshot is a point');
    assert.equal(await attr(page, 'dash-flag-critical_message_active', 'data-active'), 'false');
    assert.doesNotMatch(await attr(page, 'dash-messages', 'class'), /significant/);

    // A status change: the next push adds a point and the online line rises.
    const root = await rootApi(server.url);
    for (const ag of acmeAgents) await root.patch(`/api/v1/agents/${ag.id}`, { status: 'online' });
    await until(async () => (await page.locator(tid('dash-agents-online')).innerText()) === String(acmeAgents.length), { timeout: 6000 });
    assert.equal(await page.locator(tid('dash-agents-online')).innerText(), String(acmeAgents.length));
    assert.ok((await points(page)) > p0, 'a pushed snapshot adds a point');
    assert.match(await attr(page, 'dash-chart-online', 'd'), /^M[\d.]+ [\d.]+H/);
    assert.equal(await page.locator(`${tid('dash-chart-svg')} title`).first().textContent(), `Last 10 minutes. Now: ${acmeAgents.length} online, 0 busy, 0 away, ${await page.locator(tid('dash-events-per-min')).innerText()} events per minute.`);

    // A critical message makes critical_message_active true: flag, card and chart marker.
    const admin = (await login(server.url, 'admin@acme.test')).access_token;
    const r = await api(server.url, 'POST', '/api/v1/messages', { token: admin, body: { title: 'Outage', body: 'all hands', priority: 'critical' } });
    assert.equal(r.status, 201);
    const msg = r.json.data && r.json.data.id ? r.json.data : r.json;
    await page.locator(`${tid('dash-flag-critical_message_active')}[data-active="true"]`).waitFor({ timeout: 6000 });
    assert.match(await attr(page, 'dash-flag-critical_message_active', 'class'), /flag-on/);
    assert.match(await attr(page, 'dash-messages', 'class'), /significant/);
    assert.equal(await page.locator(tid('dash-messages-critical')).innerText(), '1');
    assert.match(await attr(page, 'dash-chart-flag', 'data-flags').catch(() => ''), /critical_message_active/);
    assert.match(await page.locator(tid('dash-updated-at')).innerText(), /significant: critical_message_active/);

    // Two of five agents go offline at once: online_agents_drop (>= 20% below the last minute's
    // maximum) lights up the agents card.
    for (const ag of acmeAgents.slice(0, 2)) await root.patch(`/api/v1/agents/${ag.id}`, { status: 'offline' });
    await page.locator(`${tid('dash-flag-online_agents_drop')}[data-active="true"]`).waitFor({ timeout: 6000 });
    assert.match(await attr(page, 'dash-agents', 'class'), /significant/);
    await shot(page, T, 'dashboard-significant');

    // Deleting the message clears its flag; the chart keeps its points (more, never fewer).
    const before = await points(page);
    const del = await api(server.url, 'DELETE', `/api/v1/messages/${msg.id}`, { token: admin, headers: { 'If-Match': String(msg.version) } });
    assert.equal(del.status, 200);
    await page.locator(`${tid('dash-flag-critical_message_active')}[data-active="false"]`).waitFor({ timeout: 6000 });
    assert.doesNotMatch(await attr(page, 'dash-messages', 'class'), /significant/);
    await until(async () => (await points(page)) > before, { timeout: 6000 });
    assert.ok((await points(page)) > before, `the push after the delete adds a point (${before} before)`);
    // The series outlives a visit to another page.
    const kept = await points(page);
    await goPage(page, 'agents');
    await goPage(page, 'dashboard');
    assert.ok((await points(page)) >= kept);
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('agents: statistics per agent and per client; time in status ticks', { timeout: 30000 }, async () => {
    const page = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    await goPage(page, 'agents');
    const ag = acmeAgents[4];
    await page.locator(tid(`agent-row-${ag.id}`)).waitFor();
    // Status changes through the board: away, online for ~1.5 s, then busy.
    await page.locator(tid(`agent-status-${ag.id}`)).selectOption('away');
    await page.locator(`${tid(`agent-row-${ag.id}`)}[data-status="away"]:not(.pending)`).waitFor();
    await page.locator(tid(`agent-status-${ag.id}`)).selectOption('online');
    await page.locator(`${tid(`agent-row-${ag.id}`)}[data-status="online"]:not(.pending)`).waitFor();
    await sleep(1500);
    await page.locator(tid(`agent-status-${ag.id}`)).selectOption('busy');
    await page.locator(`${tid(`agent-row-${ag.id}`)}[data-status="busy"]:not(.pending)`).waitFor();

    // Time in status ticks every second.
    const s0 = Number(await attr(page, `agent-since-${ag.id}`, 'data-seconds'));
    await until(async () => Number(await attr(page, `agent-since-${ag.id}`, 'data-seconds')) >= s0 + 2, { timeout: 4000 });
    assert.ok(Number(await attr(page, `agent-since-${ag.id}`, 'data-seconds')) >= s0 + 2);
    assert.match(await page.locator(tid(`agent-since-${ag.id}`)).innerText(), /^\d+s in status$/);

    // The detail panel: numbers for this agent, matching the API for the closed intervals.
    await page.locator(tid(`agent-history-${ag.id}`)).click();
    const pre = `agent-stats-${ag.id}`;
    await page.locator(tid(pre)).waitFor();
    await until(async () => Number(await attr(page, `${pre}-busy`, 'data-seconds')) > 0, { timeout: 4000 });
    const online = Number(await attr(page, `${pre}-online`, 'data-seconds'));
    assert.ok(online >= 1.4, `online seconds ${online}`); // also online during the dashboard test
    assert.ok(Number(await attr(page, `${pre}-busy`, 'data-seconds')) > 0);
    assert.ok(Number(await attr(page, `${pre}-away`, 'data-seconds')) > 0);
    const up = Number(await attr(page, pre, 'data-uptime'));
    const occ = Number(await attr(page, pre, 'data-occupancy'));
    assert.ok(up > 0 && up <= 1, `uptime ${up}`);
    assert.ok(occ > 0 && occ < 1, `occupancy ${occ}`);
    assert.match(await page.locator(tid(`${pre}-uptime`)).innerText(), /^\d+(\.\d)? %$/);
    const { get } = await rootApi(server.url);
    const apiStats = await get(`/api/v1/agents/stats?client_id=${demo.clients.acme.id}`);
    const mine = apiStats.agents.find((x) => x.agent_id === ag.id);
    assert.equal(mine.seconds.online, online, 'the closed online interval is exact');
    assert.ok(await page.locator(`${tid(`agent-history-panel-${ag.id}`)} tbody tr`).count() >= 3);

    // Per-client summary: every acme agent, with an uptime.
    const row = page.locator(tid(`client-stats-${demo.clients.acme.id}`));
    await row.waitFor();
    assert.equal(await row.getAttribute('data-agents'), String(acmeAgents.length));
    assert.ok(Number(await row.getAttribute('data-uptime')) > 0);
    assert.match(await row.locator('th').innerText(), /Acme/);
    assert.ok(Number(await attr(page, `client-stats-${demo.clients.acme.id}-busy`, 'data-seconds')) > 0);
    // Another period re-fetches (the 1 h window still holds the same closed interval).
    await page.locator(tid('agents-stats-range')).selectOption('1h');
    await until(async () => Number(await attr(page, `${pre}-online`, 'data-seconds')) === online);
    assert.equal(Number(await attr(page, `${pre}-online`, 'data-seconds')), online);
    await shot(page, T, 'agents-stats');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('messages: the statistics match GET /api/v1/messages/stats, also with a filtered list', { timeout: 25000 }, async () => {
    const page = await loginAs(await b.newContext(), server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    const admin = (await login(server.url, 'admin@acme.test')).access_token;
    const stats = async () => (await api(server.url, 'GET', '/api/v1/messages/stats', { token: admin })).json;
    const check = async () => {
      const s = await stats();
      await until(async () => (await attr(page, 'messages-stats', 'data-total')) === String(s.total), { timeout: 4000 });
      assert.equal(await attr(page, 'messages-stats', 'data-total'), String(s.total));
      assert.equal(await attr(page, 'messages-stats', 'data-active'), String(s.by_state.active));
      assert.equal(await attr(page, 'messages-stats', 'data-scheduled'), String(s.by_state.scheduled));
      const text = await page.locator(tid('messages-stats')).innerText();
      assert.match(text, new RegExp(`^${s.by_state.active} active · ${s.by_state.scheduled} scheduled · ${s.by_state.expired} expired · ${s.total} total`));
      for (const p of ['critical', 'high', 'normal', 'low']) if (s.active_by_priority[p]) assert.match(text, new RegExp(`${s.active_by_priority[p]} ${p}`));
      return s;
    };
    const s0 = await check();
    // A scheduled message (starts tomorrow), created elsewhere: the stats follow live.
    const starts = new Date(Date.now() + 86400e3).toISOString();
    const r = await api(server.url, 'POST', '/api/v1/messages', { token: admin, body: { title: 'Later', body: 'tomorrow', priority: 'high', starts_at: starts } });
    assert.equal(r.status, 201);
    const s1 = await check();
    assert.equal(s1.total, s0.total + 1);
    assert.equal(s1.by_state.scheduled, s0.by_state.scheduled + 1);
    // Filtering the list to expired messages (none) leaves the statistics whole.
    await page.locator(tid('messages-filter')).selectOption('expired');
    await page.locator(tid('messages-empty')).waitFor();
    await check();
    await shot(page, T, 'messages-stats');
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });

  it('log out everywhere ends the other browser session of the user, not another user', { timeout: 30000 }, async () => {
    const a = await loginAs(await b.newContext(), server.url, 'agent1@acme.test');
    const other = await loginAs(await b.newContext(), server.url, 'agent1@acme.test');
    const c = await loginAs(await b.newContext(), server.url, 'agent2@acme.test');
    const otherRefresh = (await sessionOf(other)).refresh_token;
    const btn = a.locator(tid('logout-everywhere'));
    assert.equal(await btn.innerText(), 'Log out everywhere');
    await btn.click();
    assert.equal(await btn.getAttribute('data-confirm'), 'true');
    await shot(a, T, 'logout-everywhere-confirm');
    await btn.click();
    await a.locator(tid('login-form')).waitFor();
    assert.equal(await sessionOf(a), null);
    // The other context of the same user is closed by the realtime server (token revoked),
    // checks its session and goes back to the login page without any action of its own.
    await other.locator(tid('login-form')).waitFor({ timeout: 8000 });
    assert.match(other.url(), /#\/login$/);
    assert.equal(await sessionOf(other), null);
    await shot(other, T, 'logout-everywhere-other');
    const rr = await api(server.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: otherRefresh } });
    assert.equal(rr.status, 401);
    // Another user is untouched: still connected, still served.
    await sleep(1200); // a few token-check rounds of the realtime server
    await waitConn(c, 'connected');
    assert.notEqual(await sessionOf(c), null);
    await goPage(c, 'messages');
    await c.locator('[data-testid^="message-row-"]').first().waitFor();
    assert.equal(await c.locator(tid('login-form')).count(), 0);
    assert.deepEqual([...a.errors, ...c.errors], []);
    assert.deepEqual(other.errors.filter((e) => !expected(e)), []);
    for (const p of [a, other, c]) await p.context().close();
  });
});
