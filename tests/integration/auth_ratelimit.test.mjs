// Issue 3: login rate limiting with the default budget (10 failed attempts per account and per
// IP per 15 minutes; successful logins do not count). Requests come from distinct loopback source addresses (127.0.0.x) so the
// per-account and per-IP budgets can be exercised separately.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';
import { requestFrom } from './lib/matrix.mjs';

let srv;
before(async () => { srv = await startServer({}); });
after(async () => { await srv?.cleanup(); });

const attempt = (ip, email, password) => requestFrom(srv.url, ip, 'POST', '/api/v1/auth/login', { email, password });

function assert429(r, what) {
  assert.equal(r.status, 429, `${what}: ${r.status} ${r.text}`);
  assert.equal(r.json?.error?.code, 'rate_limited', `${what}: ${r.text}`);
  const ra = Number(r.headers['retry-after']);
  assert.ok(Number.isInteger(ra) && ra > 0 && ra <= 900, `${what}: Retry-After ${r.headers['retry-after']}`);
}

test('the 11th wrong login for one account is 429 with Retry-After, whatever the source IP', async () => {
  for (let i = 1; i <= 10; i++) {
    const r = await attempt(`127.0.0.${10 + i}`, 'agent1@acme.test', 'wrong-password');
    assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
  }
  assert429(await attempt('127.0.0.21', 'agent1@acme.test', 'wrong-password'), '11th wrong login');
  // locked for the window even with the right password, also written differently
  assert429(await attempt('127.0.0.22', 'AGENT1@acme.test', 'demo-password'), 'right password while locked');
  // other accounts are not affected
  const ok = await attempt('127.0.0.23', 'agent2@acme.test', 'demo-password');
  assert.equal(ok.status, 200, ok.text);
});

test('per IP: only failures count; other accounts work until the IP has 10 failures, then 429', async () => {
  const ip = '127.0.0.40';
  for (let i = 1; i <= 8; i++) {
    const r = await attempt(ip, 'agent3@acme.test', 'wrong-password');
    assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
  }
  // correct logins of other accounts from the same IP work and use up nothing
  for (let i = 0; i < 5; i++) {
    assert.equal((await attempt(ip, 'agent4@acme.test', 'demo-password')).status, 200);
  }
  assert.equal((await attempt(ip, 'agent5@acme.test', 'demo-password')).status, 200);
  // two more failures (other accounts) make ten for this IP
  assert.equal((await attempt(ip, 'nobody@nowhere.test', 'whatever')).status, 401);
  assert.equal((await attempt(ip, 'agent5@acme.test', 'wrong-password')).status, 401);
  // the IP budget is used: even a correct login of a fresh account is refused
  assert429(await attempt(ip, 'agent1@globex.test', 'demo-password'), 'IP budget used');
  assert429(await attempt(ip, 'nobody@nowhere.test', 'whatever'), 'IP budget used, unknown user');
  // the accounts themselves are fine from elsewhere (no account lockout from the IP limit)
  assert.equal((await attempt('127.0.0.41', 'agent1@globex.test', 'demo-password')).status, 200);
  assert.equal((await attempt('127.0.0.41', 'agent3@acme.test', 'demo-password')).status, 200, 'agent3 had 8 failures: still under its budget');
});

test('no permanent lockout: Retry-After is within the 15-minute window; unknown accounts limit the same way', async () => {
  for (let i = 1; i <= 10; i++) {
    const r = await attempt(`127.0.1.${i}`, 'ghost@acme.test', 'x');
    assert.equal(r.status, 401, r.text);
  }
  const r = await attempt('127.0.1.11', 'ghost@acme.test', 'x');
  assert429(r, 'unknown account');
  assert.ok(Number(r.headers['retry-after']) >= 890, `a fresh window is close to 900 s: ${r.headers['retry-after']}`);
});
