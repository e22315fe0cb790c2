// Idle to away from the panel, in headless Chromium against a server with --idle-away: an
// agent's open panel that nobody touches lets the agent go away (the realtime heartbeats are
// not activity); a click in the panel reports activity and brings the agent back online.
// Screenshots in tests/artifacts/browser_idle/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { launch, loginAs, rootApi, shot, startPanelServer, until } from './lib/browser.mjs';

const T = 'browser_idle';
const IDLE_MS = 2500;

describe('web panel: idle agents go away and come back', { timeout: 90000 }, () => {
  let server;
  let b;
  before(async () => {
    server = await startPanelServer({ args: ['--idle-away', `${IDLE_MS}ms`] });
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  it('an untouched panel goes away, a click brings it back online', { timeout: 60000 }, async () => {
    const root = await rootApi(server.url);
    const users = (await root.get('/api/v1/users?email=agent3%40acme.test')).data;
    const agent = (await root.get('/api/v1/agents?limit=100')).data.find((a) => a.user_id === users[0].id);
    await root.patch(`/api/v1/agents/${agent.id}`, { status: 'online' });
    const statusOf = async () => (await root.get(`/api/v1/agents/${agent.id}`)).row;

    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'agent3@acme.test');
    const away = await until(async () => {
      const a = await statusOf();
      return a.status === 'away' ? a : null;
    }, { timeout: IDLE_MS + 8000, interval: 200 });
    assert.ok(away, 'away after the idle time with nobody at the panel');
    assert.equal(away.reason, 'idle');
    await shot(page, T, 'away');

    await page.locator('main').click({ position: { x: 5, y: 5 } });
    const back = await until(async () => {
      const a = await statusOf();
      return a.status === 'online' ? a : null;
    }, { timeout: 5000, interval: 100 });
    assert.ok(back, 'online again after a click');
    assert.equal(back.reason, null);
    await shot(page, T, 'back-online');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });
});
