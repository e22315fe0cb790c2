// libswitchboard against the real server: subscribe and receive; reconnect through a server
// restart with exact event accounting (every seq once, in order, none missing); bad
// credentials give a clear, final error. Runs the C driver tests/sdk/sdk_watch.c.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import WebSocket from 'ws';
import { startServer, api, login } from './lib/server.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const DRIVER = join(BUILD, 'sdk_watch');
let srv, admin, realtime;

function wsAvailable(url, token) {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}/websocket?apikey=${token}&vsn=1.0.0`);
    const t = setTimeout(() => { ws.terminate(); resolve(false); }, 3000);
    ws.on('open', () => { clearTimeout(t); ws.close(); resolve(true); });
    ws.on('error', () => { clearTimeout(t); resolve(false); });
  });
}

function startDriver(args) {
  const p = spawn(DRIVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const d = { p, out: [], err: [], exited: new Promise((r) => p.once('exit', (code) => r(code))) };
  let ob = '', eb = '';
  p.stdout.on('data', (b) => { ob += b; const l = ob.split('\n'); ob = l.pop(); d.out.push(...l); });
  p.stderr.on('data', (b) => { eb += b; const l = eb.split('\n'); eb = l.pop(); d.err.push(...l); });
  d.waitFor = async (pred, ms = 15000, what = 'condition') => {
    const end = Date.now() + ms;
    while (Date.now() < end) { if (pred(d)) return; await new Promise((r) => setTimeout(r, 50)); }
    throw new Error(`timed out waiting for ${what}\nstdout:\n${d.out.join('\n')}\nstderr:\n${d.err.join('\n')}`);
  };
  d.events = () => d.out.filter((l) => l.startsWith('EV ')).map((l) => Number(l.split(' ')[1]));
  return d;
}

before(async () => {
  srv = await startServer();
  admin = await login(srv.url, 'admin@acme.test');
  realtime = await wsAvailable(srv.wsUrl, admin.access_token);
});
after(async () => { await srv?.cleanup(); });

async function renameUsers(n, tag) {
  const users = (await api(srv.url, 'GET', '/api/v1/users?role=agent', { token: admin.access_token })).json.data;
  for (let i = 0; i < n; i++) {
    const u = users[i % users.length];
    const r = await api(srv.url, 'PATCH', `/api/v1/users/${u.id}`, { token: admin.access_token, body: { name: `${tag}-${i}` } });
    assert.equal(r.status, 200, r.text);
  }
}

test('bad credentials: a clear error and no endless retry', async (t) => {
  assert.ok(realtime, 'the realtime endpoint answers the upgrade');
  const d = startDriver([srv.url, 'not-a-token', 'users']);
  const code = await d.exited;
  assert.equal(code, 3);
  assert.ok(d.err.some((l) => /STATE disconnected .*refused the access token \(HTTP 401\)/.test(l)), d.err.join('\n'));
});

test('subscribe, receive, and resume through a server restart exactly once, in order', async (t) => {
  assert.ok(realtime, 'the realtime endpoint answers the upgrade');
  const fresh = await login(srv.url, 'admin@acme.test');
  const d = startDriver([srv.url, fresh.access_token, 'users', '0', '300', '1500']);
  try {
    await d.waitFor((x) => x.out.some((l) => l.startsWith('CH 1')), 15000, 'join');
    await renameUsers(5, 'a');
    await d.waitFor((x) => x.events().length >= 5, 15000, '5 events');
    await srv.restart();
    // These changes happen while the SDK is still waiting out its backoff: only the resume
    // can deliver them.
    await renameUsers(4, 'b');
    await d.waitFor((x) => x.err.some((l) => l.startsWith('STATE reconnecting')), 15000, 'reconnecting');
    await d.waitFor((x) => x.events().length >= 9, 20000, '9 events after the restart');
    await renameUsers(3, 'c');
    await d.waitFor((x) => x.events().length >= 12, 15000, '12 events');
    await new Promise((r) => setTimeout(r, 500));
    const seqs = d.events();
    assert.equal(seqs.length, 12, `exactly 12 events: ${seqs}`);
    for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `in order: ${seqs}`);
    assert.ok(!d.out.includes('RESYNC'), 'no resync needed');
    // every reconnect delay stayed within [min, max]
    for (const l of d.err.filter((x) => x.startsWith('STATE reconnecting'))) {
      const delay = Number(l.split(' ')[3]);
      assert.ok(delay >= 300 && delay <= 1500, l);
    }
  } finally {
    d.p.kill('SIGTERM');
    assert.equal(await d.exited, 0, `driver exit status; its stderr:\n${d.err.join('\n')}`);
  }
});

test('examples/watch_agents.c prints a live status change and stops on Ctrl-C', async (t) => {
  assert.ok(realtime, 'the realtime endpoint answers the upgrade');
  const fresh = await login(srv.url, 'admin@acme.test');
  const p = spawn(join(BUILD, 'example_watch_agents'), [], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SWITCHBOARD_URL: srv.url, SWITCHBOARD_TOKEN: fresh.access_token },
  });
  const exited = new Promise((r) => p.once('exit', (code) => r(code)));
  let out = '';
  p.stdout.on('data', (b) => { out += b; });
  try {
    const agents = (await api(srv.url, 'GET', '/api/v1/agents', { token: fresh.access_token })).json.data;
    const a = agents[0];
    // The subscription goes live shortly after start: change the status until a line shows it.
    const end = Date.now() + 15000;
    let n = 0;
    while (!out.includes(a.user_id) && Date.now() < end) {
      const status = n++ % 2 ? 'online' : 'busy';
      const r = await api(srv.url, 'PATCH', `/api/v1/agents/${a.id}`, { token: fresh.access_token, body: { status, reason: `example ${n}` } });
      assert.equal(r.status, 200, r.text);
      await new Promise((r2) => setTimeout(r2, 300));
    }
    const line = out.split('\n').find((l) => l.includes(a.user_id));
    assert.match(line || '', /^UPDATE seq=\d+ \{/, out);
  } finally {
    p.kill('SIGINT');
  }
  assert.equal(await exited, 0);
});
