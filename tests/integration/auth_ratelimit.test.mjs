// Issue 11 item 10: login limiting that slows guessing without locking legitimate users out.
// Against the real server, with requests from distinct loopback source addresses (127.0.x.y):
//   - per (account, IP): 10 failures in 15 min -> 429 with Retry-After up to 900 s;
//   - per account alone: only short, growing delays (1 s, 2 s, ... at most
//     --login-account-max-delay), never a lock; the owner's known address and the owner's
//     browser (a signed device cookie set at login) are not delayed;
//   - per IP: a ceiling of 100 failures (an office behind NAT); correct logins of other
//     accounts from an IP with some failures work;
//   - X-Forwarded-For names the client only when the TCP peer is in --trusted-proxies, and
//     the audit log records the same address.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync } from 'node:child_process';
import { BIN, login, startServer, api } from './lib/server.mjs';

// POST /api/v1/auth/login from a chosen local address, with optional extra headers.
function attempt(srv, ip, email, password, headers = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(srv.url + '/api/v1/auth/login');
    const data = Buffer.from(JSON.stringify({ email, password }));
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', localAddress: ip, agent: false,
      headers: { 'content-type': 'application/json', 'content-length': data.length, ...headers },
      timeout: 10000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(data);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The device cookie a successful login sets ("sb_device=..."), checked for its attributes.
function deviceCookie(r) {
  const c = (r.headers['set-cookie'] || []).find((v) => v.startsWith('sb_device='));
  assert.ok(c, `a login sets the device cookie: ${JSON.stringify(r.headers['set-cookie'])}`);
  assert.match(c, /; HttpOnly/);
  assert.match(c, /; SameSite=Strict/);
  assert.match(c, /; Path=\/api\/v1\/auth\/login/);
  return c.split(';')[0];
}

function retryAfter(r) {
  return Number(r.headers['retry-after']);
}

function assert429(r, what, { min = 1, max = 900 } = {}) {
  assert.equal(r.status, 429, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json?.error?.code, 'rate_limited', `${what}: ${r.text}`);
  const ra = retryAfter(r);
  assert.ok(Number.isInteger(ra) && ra >= min && ra <= max, `${what}: Retry-After ${r.headers['retry-after']} not in ${min}..${max}`);
}

// A correct login that may meet the account's short delay once (at most maxWait s): the
// delay is waited out (bounded) and the login must then succeed.
async function loginThroughDelay(srv, ip, email, maxWait, headers = {}) {
  let r = await attempt(srv, ip, email, 'demo-password', headers);
  if (r.status === 429) {
    assert429(r, `${email} from ${ip}: only a short account delay`, { max: maxWait });
    await sleep(retryAfter(r) * 1000 + 100);
    r = await attempt(srv, ip, email, 'demo-password', headers);
  }
  assert.equal(r.status, 200, `${email} from ${ip}: ${r.text}`);
  return r;
}

describe('default limits', () => {
  let srv;
  before(async () => { srv = await startServer({}); });
  after(async () => { await srv?.cleanup(); });

  test('per (account, IP): the 11th wrong login is 429 with a Retry-After near 15 min; the right password from that IP too', async () => {
    const ip = '127.0.0.11';
    for (let i = 1; i <= 10; i++) {
      const r = await attempt(srv, ip, 'agent1@acme.test', 'wrong-password');
      assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
    }
    const r = await attempt(srv, ip, 'agent1@acme.test', 'wrong-password');
    assert429(r, '11th wrong login', { min: 890 });
    assert429(await attempt(srv, ip, 'AGENT1@acme.test', 'demo-password'), 'right password, same IP, other case', { min: 890 });
  });

  test('per account: the same account from another IP is never locked, at most a short delay', async () => {
    // agent1 has 10 failures from 127.0.0.11 (previous test): from elsewhere it works.
    await loginThroughDelay(srv, '127.0.0.12', 'agent1@acme.test', 1);
    // other accounts from the limited IP are untouched
    assert.equal((await attempt(srv, '127.0.0.11', 'agent2@acme.test', 'demo-password')).status, 200);
  });

  test('a flood of failures from many IPs cannot lock the owner out', async () => {
    const owner = '127.0.0.50';
    const first = await attempt(srv, owner, 'agent3@acme.test', 'demo-password');
    assert.equal(first.status, 200, 'owner logs in once');
    const cookie = deviceCookie(first);
    const statuses = { 401: 0, 429: 0 };
    let maxRa = 0;
    for (let i = 1; i <= 40; i++) {
      const r = await attempt(srv, `127.0.2.${i}`, 'agent3@acme.test', 'wrong-password');
      assert.ok(r.status === 401 || r.status === 429, `flood ${i}: ${r.status} ${r.text}`);
      statuses[r.status]++;
      if (r.status === 429) {
        assert429(r, `flood ${i}`, { max: 60 });
        maxRa = Math.max(maxRa, retryAfter(r));
      }
    }
    assert.ok(statuses[401] >= 10, `the first 10 failures are answered: ${JSON.stringify(statuses)}`);
    assert.ok(statuses[429] > 0, `then the account is slowed down: ${JSON.stringify(statuses)}`);
    assert.ok(maxRa <= 60, `never more than the 60 s account delay: ${maxRa}`);
    // the owner, from an address that logged in to this account before, is not delayed
    const r = await attempt(srv, owner, 'agent3@acme.test', 'demo-password');
    assert.equal(r.status, 200, `owner during the flood: ${r.text}`);
    // the owner's browser (device cookie) from a new address is not delayed either
    const moved = await attempt(srv, '127.0.0.52', 'agent3@acme.test', 'demo-password', { cookie });
    assert.equal(moved.status, 200, `owner's device from a new address: ${moved.text}`);
    // any other new address gets at most a short delay, never a lock
    const fresh = await attempt(srv, '127.0.0.51', 'agent3@acme.test', 'demo-password');
    if (fresh.status === 429) assert429(fresh, 'new address during the flood', { max: 60 });
    else assert.equal(fresh.status, 200, fresh.text);
  });

  test('per IP: some failures do not block correct logins of other accounts; 30 failures are far below the ceiling', async () => {
    const ip = '127.0.0.70';
    for (let i = 1; i <= 30; i++) {
      const r = await attempt(srv, ip, `nobody${i}@nowhere.test`, 'whatever');
      assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
    }
    assert.equal((await attempt(srv, ip, 'agent4@acme.test', 'demo-password')).status, 200);
    assert.equal((await attempt(srv, ip, 'agent5@acme.test', 'demo-password')).status, 200);
    assert.equal((await attempt(srv, ip, 'admin@acme.test', 'demo-password')).status, 200);
  });

  test('X-Forwarded-For is ignored without a trusted proxy; the audit log has the peer address', async () => {
    const ip = '127.0.0.80';
    for (let i = 1; i <= 10; i++) {
      const r = await attempt(srv, ip, 'agent1@globex.test', 'wrong-password', { 'x-forwarded-for': `203.0.113.${i}` });
      assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
    }
    assert429(await attempt(srv, ip, 'agent1@globex.test', 'wrong-password', { 'x-forwarded-for': '203.0.113.99' }),
      'a made-up X-Forwarded-For does not escape the (account, IP) limit', { min: 890 });
    const root = await login(srv.url, 'root@demo.test');
    const audit = await api(srv.url, 'GET', '/api/v1/audit?entity_type=session&limit=200', { token: root.access_token });
    assert.equal(audit.status, 200, audit.text);
    const failed = audit.json.data.filter((e) => e.action === 'auth.login_failed' && e.after?.email === 'agent1@globex.test');
    assert.equal(failed.length, 10, JSON.stringify(failed.map((e) => e.ip)));
    for (const e of failed) assert.equal(e.ip, ip);
  });

  test('parallel wrong logins cannot overshoot the (account, IP) budget', async () => {
    const rs = await Promise.all(Array.from({ length: 24 }, () => attempt(srv, '127.0.0.100', 'admin@globex.test', 'wrong-password')));
    const n401 = rs.filter((r) => r.status === 401).length;
    const n429 = rs.filter((r) => r.status === 429).length;
    assert.equal(n401 + n429, 24, rs.map((r) => r.status).join(' '));
    // attempts in flight count, so exactly the budget is answered, whatever the interleaving
    assert.equal(n401, 10, rs.map((r) => r.status).join(' '));
    assert429(await attempt(srv, '127.0.0.100', 'admin@globex.test', 'demo-password'), 'after the parallel burst', { min: 890 });
  });

  test('--help documents every login limit with its default', () => {
    const r = spawnSync(BIN, ['--help'], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0);
    for (const [flag, def] of [['--login-attempts', '10'], ['--login-ip-attempts', '100'], ['--login-account-attempts', '10'],
      ['--login-account-max-delay', '60s'], ['--login-window', '15m'], ['--trusted-proxies', '']]) {
      const at = r.stdout.indexOf(flag + ' ');
      assert.ok(at >= 0, `--help lists ${flag}`);
      assert.ok(r.stdout.slice(at).split('\n')[1].includes(`default "${def}"`), `${flag} default ${def}`);
    }
  });
});

describe('configured limits', () => {
  let srv;
  before(async () => {
    srv = await startServer({ args: ['--login-ip-attempts', '12', '--login-attempts', '3', '--login-account-attempts', '4', '--login-account-max-delay', '2s'] });
  });
  after(async () => { await srv?.cleanup(); });

  test('the per-IP ceiling refuses every account from that IP, not the accounts elsewhere', async () => {
    const ip = '127.0.0.90';
    for (let i = 1; i <= 12; i++) {
      const r = await attempt(srv, ip, `ghost${i}@nowhere.test`, 'x');
      assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
    }
    const r = await attempt(srv, ip, 'agent1@acme.test', 'demo-password');
    assert429(r, 'IP ceiling reached', { min: 890 });
    assert.equal((await attempt(srv, '127.0.0.91', 'agent1@acme.test', 'demo-password')).status, 200);
  });

  test('account delays grow and stop at the maximum; the right password then gets in from a new address', async () => {
    const seen = [];
    for (let i = 1; i <= 12; i++) {
      const r = await attempt(srv, `127.0.3.${i}`, 'agent2@acme.test', 'wrong-password');
      if (r.status === 429) {
        assert429(r, `attempt ${i}`, { max: 2 });
        seen.push(retryAfter(r));
        await sleep(retryAfter(r) * 1000 + 50);
      } else {
        assert.equal(r.status, 401, r.text);
      }
    }
    assert.ok(seen.length > 0, 'the account was slowed down');
    await loginThroughDelay(srv, '127.0.3.100', 'agent2@acme.test', 2);
  });

  test('a device cookie of the account lifts its delay; a forged or another account\'s does not', async () => {
    const first = await attempt(srv, '127.0.4.1', 'agent3@acme.test', 'demo-password');
    assert.equal(first.status, 200, first.text);
    const cookie = deviceCookie(first);
    const other = deviceCookie(await attempt(srv, '127.0.4.2', 'agent4@acme.test', 'demo-password'));
    for (let i = 0; i < 4; i++) {
      assert.equal((await attempt(srv, `127.0.4.${10 + i}`, 'agent3@acme.test', 'wrong-password')).status, 401);
    }
    // the account is now delayed (1 s after the last failure) for everyone else...
    assert429(await attempt(srv, '127.0.4.20', 'agent3@acme.test', 'demo-password'), 'no cookie', { max: 1 });
    assert429(await attempt(srv, '127.0.4.21', 'agent3@acme.test', 'demo-password', { cookie: other }), "another account's cookie", { max: 1 });
    const forged = cookie.replace(/.$/, (ch) => (ch === 'A' ? 'B' : 'A'));
    assert429(await attempt(srv, '127.0.4.22', 'agent3@acme.test', 'demo-password', { cookie: forged }), 'forged cookie', { max: 1 });
    // ...but not for the owner's browser, from a new address
    const r = await attempt(srv, '127.0.4.23', 'agent3@acme.test', 'demo-password', { cookie: `theme=dark; ${cookie}` });
    assert.equal(r.status, 200, r.text);
  });

  test('the (account, IP) budget follows --login-attempts', async () => {
    for (let i = 1; i <= 3; i++) assert.equal((await attempt(srv, '127.0.0.95', 'viewer@acme.test', 'nope')).status, 401);
    assert429(await attempt(srv, '127.0.0.95', 'viewer@acme.test', 'demo-password'), '4th', { min: 890 });
  });
});

describe('behind a trusted proxy', () => {
  let srv;
  // 127.0.0.1 plays the reverse proxy; 127.0.0.2 is an ordinary client.
  before(async () => { srv = await startServer({ args: ['--trusted-proxies', '127.0.0.1/32, ::1'] }); });
  after(async () => { await srv?.cleanup(); });

  test('X-Forwarded-For from the trusted proxy names the client: limits and the audit log use it', async () => {
    const viaProxy = (client, email, pw) => attempt(srv, '127.0.0.1', email, pw, { 'x-forwarded-for': `${client}, 127.0.0.1` });
    for (let i = 1; i <= 10; i++) {
      const r = await viaProxy('198.51.100.7', 'agent1@acme.test', 'wrong-password');
      assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
    }
    assert429(await viaProxy('198.51.100.7', 'agent1@acme.test', 'demo-password'), 'that client is limited', { min: 890 });
    // another client behind the same proxy is not: the proxy's address is not the key
    await loginThroughDelay(srv, '127.0.0.1', 'agent1@acme.test', 1, { 'x-forwarded-for': '198.51.100.8' });
    // a client that is not the proxy cannot pose as another address
    for (let i = 1; i <= 10; i++) {
      const r = await attempt(srv, '127.0.0.2', 'agent2@acme.test', 'wrong-password', { 'x-forwarded-for': `192.0.2.${i}` });
      assert.equal(r.status, 401, r.text);
    }
    assert429(await attempt(srv, '127.0.0.2', 'agent2@acme.test', 'wrong-password', { 'x-forwarded-for': '192.0.2.77' }),
      'untrusted peer with X-Forwarded-For', { min: 890 });
    const root = await login(srv.url, 'root@demo.test');
    const audit = await api(srv.url, 'GET', '/api/v1/audit?entity_type=session&limit=200', { token: root.access_token });
    const ips = (email) => audit.json.data.filter((e) => e.action === 'auth.login_failed' && e.after?.email === email).map((e) => e.ip);
    assert.deepEqual([...new Set(ips('agent1@acme.test'))], ['198.51.100.7']);
    assert.deepEqual([...new Set(ips('agent2@acme.test'))], ['127.0.0.2']);
    const ok = audit.json.data.find((e) => e.action === 'auth.login' && e.after?.email === 'agent1@acme.test');
    assert.equal(ok?.ip, '198.51.100.8');
  });

  test('several X-Forwarded-For fields are one list: a client-sent field cannot hide the hop the proxy appended', async () => {
    // The client sent "X-Forwarded-For: 192.0.2.200"; the proxy added its own field after it.
    const r = await attempt(srv, '127.0.0.1', 'viewer@acme.test', 'wrong-password',
      { 'x-forwarded-for': ['192.0.2.200', '198.51.100.9'] });
    assert.equal(r.status, 401, r.text);
    const root = await login(srv.url, 'root@demo.test');
    const audit = await api(srv.url, 'GET', '/api/v1/audit?entity_type=session&limit=200', { token: root.access_token });
    const e = audit.json.data.find((x) => x.action === 'auth.login_failed' && x.after?.email === 'viewer@acme.test');
    assert.equal(e?.ip, '198.51.100.9');
  });
  // The access log's `ip` is the address login limiting and the audit log use (one resolver):
  // the client a trusted proxy names, with the proxy as `peer`; an untrusted peer's header is
  // ignored there too.
  test('the request log records the resolved client address, and the proxy as peer', async () => {
    const logLine = async (requestId) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const line = srv.logs.join('').split('\n').filter((l) => l.includes(requestId))
          .map((l) => JSON.parse(l)).find((j) => j.msg === 'request');
        if (line || Date.now() > deadline) return line;
        await sleep(50);
      }
    };
    const proxied = await attempt(srv, '127.0.0.1', 'agent3@acme.test', 'wrong-password',
      { 'x-forwarded-for': '203.0.113.50, 127.0.0.1' });
    assert.equal(proxied.status, 401, proxied.text);
    const id1 = proxied.headers['x-request-id'];
    assert.ok(id1, 'a request id header');
    const l1 = await logLine(id1);
    assert.ok(l1, `a request log line for ${id1}`);
    assert.equal(l1.ip, '203.0.113.50');
    assert.equal(l1.peer, '127.0.0.1');
    assert.equal(l1.path, '/api/v1/auth/login');
    assert.equal(l1.status, 401);

    const direct = await attempt(srv, '127.0.0.2', 'agent3@acme.test', 'wrong-password',
      { 'x-forwarded-for': '203.0.113.51' });
    assert.equal(direct.status, 401, direct.text);
    const l2 = await logLine(direct.headers['x-request-id']);
    assert.ok(l2, 'a request log line for the direct client');
    assert.equal(l2.ip, '127.0.0.2');
    assert.equal(l2.peer, undefined, 'no peer field when the peer is the client');

    // the same addresses as the audit log recorded for these two attempts
    const root = await login(srv.url, 'root@demo.test');
    const audit = await api(srv.url, 'GET', '/api/v1/audit?entity_type=session&limit=200', { token: root.access_token });
    const byId = (rid) => audit.json.data.find((e) => e.request_id === rid);
    assert.equal(byId(id1)?.ip, l1.ip);
    assert.equal(byId(direct.headers['x-request-id'])?.ip, l2.ip);
  });
});

test('a malformed --trusted-proxies is a configuration error (exit 2) naming the key', () => {
  for (const bad of ['10.0.0.0/33', 'proxy.example', '127.0.0.1,,::1/200']) {
    const r = spawnSync(BIN, ['serve', '--db', 'sqlite::memory:', '--listen', '127.0.0.1:0', '--trusted-proxies', bad],
      { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /trusted_proxies/);
  }
  const r = spawnSync(BIN, ['serve', '--db', 'sqlite::memory:', '--listen', '127.0.0.1:0', '--login-ip-attempts', '0'],
    { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /login/);
});
