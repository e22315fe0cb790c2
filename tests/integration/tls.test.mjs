// TLS: https and wss on the same listener, with a throwaway self-signed certificate.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import net from 'node:net';
import WebSocket from 'ws';
import { startServer } from './lib/server.mjs';

let srv;
let dir;

function request(method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(srv.url + path, { method, rejectUnauthorized: false, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sbtls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'),
    '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
  srv = await startServer({ args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--login-attempts', '100'] });
  assert.match(srv.url, /^https:/);
});

after(async () => { await srv?.cleanup(); });

test('https: livez, keep-alive and a large response', async () => {
  const r = await request('GET', '/livez');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { status: 'ok' });
  assert.equal(r.headers['x-content-type-options'], 'nosniff');
  const m = await request('GET', '/metrics');
  assert.equal(m.status, 200);
  assert.match(m.body.toString(), /switchboard_http_requests_total/);
});

test('https: login with a body, then an authenticated request', async () => {
  const body = JSON.stringify({ email: 'admin@acme.test', password: 'demo-password' });
  const r = await request('POST', '/api/v1/auth/login', body, { 'content-type': 'application/json' });
  assert.equal(r.status, 200);
  const tok = JSON.parse(r.body).access_token;
  const me = await request('GET', '/api/v1/me', null, { authorization: `Bearer ${tok}` });
  assert.equal(me.status, 200);
  assert.equal(JSON.parse(me.body).user.email, 'admin@acme.test');
});

test('https: a body larger than one TLS record arrives whole', async () => {
  // 200 KiB of JSON: the server must reassemble many records; the answer is a validation error
  // (unknown fields), which proves the whole body was parsed.
  const big = JSON.stringify({ email: 'a@b.test', password: 'x'.repeat(10), pad: 'y'.repeat(200 * 1024) });
  const r = await request('POST', '/api/v1/auth/login', big, { 'content-type': 'application/json' });
  assert.equal(r.status, 401);
});

test('plain HTTP on the TLS port is refused without a crash', async () => {
  const reply = await new Promise((resolve) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /livez HTTP/1.1\r\nHost: x\r\n\r\n'));
    let got = '';
    s.on('data', (d) => { got += d.toString('latin1'); });
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    setTimeout(() => s.destroy(), 3000);
  });
  assert.doesNotMatch(reply, /200 OK/);
  const r = await request('GET', '/livez');
  assert.equal(r.status, 200);
});

test('wss: the realtime endpoint upgrades over TLS', async () => {
  const body = JSON.stringify({ email: 'admin@acme.test', password: 'demo-password' });
  const r = await request('POST', '/api/v1/auth/login', body, { 'content-type': 'application/json' });
  const tok = JSON.parse(r.body).access_token;
  const ws = new WebSocket(`${srv.wsUrl}/websocket?apikey=${tok}&vsn=1.0.0`, { rejectUnauthorized: false });
  const reply = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no heartbeat reply')), 5000);
    ws.on('open', () => ws.send(JSON.stringify({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '1' })));
    ws.on('message', (m) => { clearTimeout(t); resolve(JSON.parse(m.toString())); });
    ws.on('error', reject);
  });
  assert.equal(reply.event, 'phx_reply');
  assert.equal(reply.ref, '1');
  ws.close();
});

test('wss: a multi-row change arrives whole and in order (several frames in one encrypted write)', async () => {
  const body = JSON.stringify({ email: 'admin@acme.test', password: 'demo-password' });
  const tok = JSON.parse((await request('POST', '/api/v1/auth/login', body, { 'content-type': 'application/json' })).body).access_token;
  const auth = { authorization: `Bearer ${tok}`, 'content-type': 'application/json' };
  const ids = JSON.parse((await request('GET', '/api/v1/agents', null, auth)).body).data.map((a) => a.id);
  assert.ok(ids.length >= 3, 'demo agents');
  const ws = new WebSocket(`${srv.wsUrl}/websocket?apikey=${tok}&vsn=1.0.0`, { rejectUnauthorized: false });
  const frames = [];
  ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
  await new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); });
  ws.send(JSON.stringify({ topic: 'realtime:tls', event: 'phx_join', ref: '1', join_ref: '1',
    payload: { config: { postgres_changes: [{ event: 'UPDATE', schema: 'public', table: 'agent_status' }] } } }));
  const until = async (pred, what) => {
    const end = Date.now() + 5000;
    while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.ok(pred(), what);
  };
  await until(() => frames.some((f) => f.event === 'phx_reply' && f.ref === '1'), 'join reply');
  for (const status of ['busy', 'away']) {
    const r = await request('POST', '/api/v1/agents/bulk-status', JSON.stringify({ ids, status }), auth);
    assert.equal(r.status, 200, r.body.toString());
  }
  const changes = () => frames.filter((f) => f.event === 'postgres_changes');
  await until(() => changes().length >= 2 * ids.length, `${2 * ids.length} changes`);
  await new Promise((r) => setTimeout(r, 200));
  const got = changes().map((f) => f.payload.data);
  assert.equal(got.length, 2 * ids.length, 'each change exactly once');
  for (let i = 1; i < got.length; i++) assert.ok(got[i].seq > got[i - 1].seq, 'in seq order');
  assert.deepEqual(got.map((d) => d.record.status), [...ids.map(() => 'busy'), ...ids.map(() => 'away')]);
  ws.close();
});

test('bad certificate files: exit 2 with a message', async () => {
  writeFileSync(join(dir, 'bad.pem'), 'not a certificate');
  const { spawnSync } = await import('node:child_process');
  const { BIN } = await import('./lib/server.mjs');
  const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--db', 'sqlite::memory:', '--tls-cert', join(dir, 'bad.pem'), '--tls-key', join(dir, 'bad.pem')], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /tls_cert/);
});

test('https: a streamed CSV export of several pages, then the same connection goes on', async () => {
  const login = await request('POST', '/api/v1/auth/login', JSON.stringify({ email: 'admin@acme.test', password: 'demo-password' }), { 'content-type': 'application/json' });
  const tok = JSON.parse(login.body).access_token;
  const auth = { authorization: `Bearer ${tok}` };
  for (let i = 0; i < 450; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => request('POST', '/api/v1/messages',
      JSON.stringify({ title: `tls ${String(i + k).padStart(3, '0')}`, body: 'x'.repeat(500), priority: 'low' }),
      { ...auth, 'content-type': 'application/json' })));
  }
  // one keep-alive connection: the chunked export, then a JSON request on the same socket
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
  const sockets = new Set();
  const get = (path) => new Promise((resolve, reject) => {
    const req = https.request(srv.url + path, { agent, headers: auth }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('socket', (s) => sockets.add(s));
    req.on('error', reject);
    req.end();
  });
  const csv = await get('/api/v1/messages?format=csv&priority=low&sort=title');
  assert.equal(csv.status, 200);
  assert.equal(csv.headers['transfer-encoding'], 'chunked');
  const lines = csv.body.split('\r\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, 451);
  assert.match(lines[1], /,tls 000,/);
  assert.match(lines[450], /,tls 449,/);
  const me = await get('/api/v1/me');
  assert.equal(me.status, 200);
  assert.equal(sockets.size, 1, 'the connection was reused after the chunked response');
  agent.destroy();
  // the SDK over TLS: sbctl export --insecure gives the same bytes
  const { spawnSync } = await import('node:child_process');
  const sbctl = join(process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname, 'sbctl');
  const r = spawnSync(sbctl, ['--url', srv.url, '--insecure', 'export', 'messages', '--csv', '--priority', 'low', '--sort', 'title'],
    { env: { ...process.env, SWITCHBOARD_TOKEN: tok }, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, csv.body);
});
