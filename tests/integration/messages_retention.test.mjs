// Message retention against the real binary: with --message-retention, the jobs thread
// deletes messages expired longer ago than it (audited as the system, "message.purge"),
// leaves others alone; with 0 expired messages are kept.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function setup(retention) {
  const s = await startServer({ demo: true, args: ['--message-retention', retention] });
  servers.push(s);
  const t = (await login(s.url, 'admin@acme.test')).access_token;
  const root = (await login(s.url, 'root@demo.test')).access_token;
  const soon = new Date(Date.now() + 1000).toISOString();
  const a = await api(s.url, 'POST', '/api/v1/messages', { token: t, body: { title: 'short lived', body: 'x', expires_at: soon } });
  const b = await api(s.url, 'POST', '/api/v1/messages', { token: t, body: { title: 'long lived', body: 'y' } });
  assert.equal(a.status, 201);
  assert.equal(b.status, 201);
  return { s, t, root, a: a.json, b: b.json };
}

test('expired messages older than the retention are deleted and audited as the system', async () => {
  const { s, root, a, b } = await setup('2s');
  const end = Date.now() + 15000;
  let seenExpired = false;
  for (;;) {
    const r = await api(s.url, 'GET', `/api/v1/messages/${a.id}`, { token: root });
    if (r.status === 404) break;
    if (r.json.state === 'expired') seenExpired = true;
    assert.ok(Date.now() < end, 'purged within 15 s');
    await sleep(200);
  }
  assert.ok(seenExpired, 'it was expired (kept) before the retention ran out');
  assert.equal((await api(s.url, 'GET', `/api/v1/messages/${b.id}`, { token: root })).status, 200);
  const au = await api(s.url, 'GET', `/api/v1/audit?entity_id=${a.id}&action=message.purge`, { token: root });
  assert.equal(au.json.data.length, 1);
  assert.equal(au.json.data[0].actor_id, 'system');
  assert.equal(au.json.data[0].before.title, 'short lived');
  assert.equal(au.json.data[0].after, null);
  // the demo messages (never expiring) are all still there
  const all = await api(s.url, 'GET', '/api/v1/messages?limit=500', { token: root });
  assert.ok(all.json.data.some((m) => m.title === 'Welcome to switchboard'));
});

test('retention 0 keeps expired messages; a bad value is refused at start', async () => {
  const { s, root, a } = await setup('0');
  const end = Date.now() + 10000;
  while ((await api(s.url, 'GET', `/api/v1/messages/${a.id}`, { token: root })).json.state !== 'expired') {
    assert.ok(Date.now() < end);
    await sleep(200);
  }
  await sleep(2500); // the purge runs every second: several rounds
  const r = await api(s.url, 'GET', `/api/v1/messages/${a.id}`, { token: root });
  assert.equal(r.status, 200);
  assert.equal(r.json.state, 'expired');
  await assert.rejects(startServer({ demo: false, args: ['--message-retention', 'soon'] }), /exited/);
});
