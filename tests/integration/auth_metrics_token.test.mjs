// Issue 11 item 12: /metrics optionally protected by a bearer token (--metrics-token,
// SWITCHBOARD_METRICS_TOKEN; default off). Against the real server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BIN, login, startServer } from './lib/server.mjs';

const TOKEN = 'metrics-scrape-token-0123456789abcdef';

async function get(srv, path, headers = {}) {
  const r = await fetch(srv.url + path, { headers });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

describe('with --metrics-token', () => {
  let srv;
  before(async () => { srv = await startServer({ args: ['--metrics-token', TOKEN] }); });
  after(async () => { await srv?.cleanup(); });

  test('no token, a wrong one or an access token: 401 with WWW-Authenticate; nothing leaks', async () => {
    const root = await login(srv.url, 'root@demo.test');
    for (const [what, h] of [['none', {}], ['wrong', { authorization: `Bearer ${TOKEN}x` }],
      ['prefix', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }], ['basic', { authorization: `Basic ${TOKEN}` }],
      ['access token', { authorization: `Bearer ${root.access_token}` }], ['empty', { authorization: 'Bearer ' }]]) {
      const r = await get(srv, '/metrics', h);
      assert.equal(r.status, 401, `${what}: ${r.status}`);
      assert.match(r.headers.get('www-authenticate') || '', /^Bearer/, what);
      assert.equal(JSON.parse(r.text).error.code, 'unauthorized', what);
      assert.ok(!r.text.includes('switchboard_'), `${what}: no metrics in the body`);
    }
  });

  test('the right token gets the Prometheus text', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const r = await get(srv, '/metrics', { authorization: `${scheme} ${TOKEN}` });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type'), /^text\/plain/);
      assert.match(r.text, /^# (HELP|TYPE) switchboard_/m);
    }
  });

  test('/livez and /readyz stay open', async () => {
    assert.equal((await get(srv, '/livez')).status, 200);
    assert.equal((await get(srv, '/readyz')).status, 200);
  });
});

describe('from the environment', () => {
  let srv;
  before(async () => { srv = await startServer({ env: { SWITCHBOARD_METRICS_TOKEN: TOKEN } }); });
  after(async () => { await srv?.cleanup(); });

  test('SWITCHBOARD_METRICS_TOKEN protects /metrics too', async () => {
    assert.equal((await get(srv, '/metrics')).status, 401);
    assert.equal((await get(srv, '/metrics', { authorization: `Bearer ${TOKEN}` })).status, 200);
  });
});

describe('default', () => {
  let srv;
  before(async () => { srv = await startServer({}); });
  after(async () => { await srv?.cleanup(); });

  test('without --metrics-token /metrics is open', async () => {
    const r = await get(srv, '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.text, /switchboard_/);
  });
});

test('a metrics token shorter than 16 characters is a configuration error (exit 2)', () => {
  const r = spawnSync(BIN, ['serve', '--db', 'sqlite::memory:', '--listen', '127.0.0.1:0', '--metrics-token', 'short'],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /metrics_token/);
});
