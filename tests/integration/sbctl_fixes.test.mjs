// Issue 13's sbctl and --demo fixes against the real binary: `sbctl watch nosuchtable` exits
// 1 with the server's reason, the reconnect message carries the server's whole close reason
// ("server shutting down"), and --demo on restart does not re-create a demo message whose
// title was edited (nor one that was deleted).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const SBCTL = join(BUILD, 'sbctl');
let srv;
let token;

before(async () => {
  srv = await startServer({ demo: true, args: ['--access-ttl', '1h'] });
  token = (await login(srv.url, 'admin@acme.test')).access_token;
});
after(async () => {
  await srv?.cleanup();
});

test('watch of an unknown table exits 1 with the reason', () => {
  const r = spawnSync(SBCTL, ['--url', srv.url, 'watch', 'nosuchtable'], {
    env: { ...process.env, SWITCHBOARD_TOKEN: token }, encoding: 'utf8', timeout: 20000,
  });
  assert.equal(r.signal, null, 'exited by itself');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /unknown table 'nosuchtable'/);
});

test('the reconnect message shows the whole close reason', async () => {
  const p = spawn(SBCTL, ['--url', srv.url, 'watch', 'agents'], {
    env: { ...process.env, SWITCHBOARD_TOKEN: token }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const until = async (re, ms) => {
    const end = Date.now() + ms;
    while (!re.test(err)) {
      assert.ok(Date.now() < end, `waiting for ${re} in:\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await until(/channel subscribed/, 10000);
    await srv.restart();
    await until(/reconnecting \(attempt 1, in \d+ ms\): server closed the connection \(code 1001: server shutting down\)/, 10000);
    await until(/channel subscribed[\s\S]*channel subscribed/, 20000);
  } finally {
    p.kill('SIGTERM');
  }
  const code = await new Promise((r) => p.once('exit', r));
  assert.equal(code, 0);
  assert.doesNotMatch(err, /: rver /);
});

test('--demo on restart keeps an edited demo message edited and a deleted one deleted', async () => {
  const t = (await login(srv.url, 'root@demo.test')).access_token;
  const list = async () => (await api(srv.url, 'GET', '/api/v1/messages?limit=500', { token: t })).json.data;
  const before = await list();
  const welcome = before.find((m) => m.title === 'Welcome to switchboard');
  const meeting = before.find((m) => m.title === 'Acme: team meeting at 10:00');
  assert.ok(welcome && meeting);
  const e = await api(srv.url, 'PATCH', `/api/v1/messages/${welcome.id}`, { token: t, body: { title: 'Welcome (edited)' } });
  assert.equal(e.status, 200);
  assert.equal((await api(srv.url, 'DELETE', `/api/v1/messages/${meeting.id}`, { token: t })).status, 200);
  await srv.restart();
  const t2 = (await login(srv.url, 'root@demo.test')).access_token;
  const after = (await api(srv.url, 'GET', '/api/v1/messages?limit=500', { token: t2 })).json.data;
  assert.equal(after.filter((m) => m.title === 'Welcome to switchboard').length, 0, 'not re-created');
  assert.equal(after.filter((m) => m.title === 'Welcome (edited)').length, 1);
  assert.equal(after.filter((m) => m.title === 'Acme: team meeting at 10:00').length, 0, 'deleted stays deleted');
  assert.equal(after.filter((m) => m.title === 'Globex: maintenance tonight').length, 1, 'untouched stays once');
  assert.equal(after.length, before.length - 1);
});
