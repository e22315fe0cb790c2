// Issue 3: an unknown e-mail and a wrong password are indistinguishable: same status, same
// body, and the same time (argon2 runs against a dummy hash for unknown users).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ args: ['--login-attempts', '1000', '--login-account-attempts', '1000', '--login-ip-attempts', '1000'] }); });
after(async () => { await srv?.cleanup(); });

async function timed(email, password) {
  const t0 = process.hrtime.bigint();
  const r = await fetch(`${srv.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }),
  });
  const text = await r.text();
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: r.status, text };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

test('unknown user and wrong password: same status, same body, similar time', async () => {
  const N = 15;
  await timed('admin@acme.test', 'warm-up-wrong'); // warm-up both paths
  await timed('nobody-warm@acme.test', 'warm-up-wrong');
  const unknown = [];
  const wrong = [];
  let bodies = new Set();
  for (let i = 0; i < N; i++) {
    // interleave so drift affects both series alike
    const a = await timed(`nobody${i}@acme.test`, 'wrong-password-x');
    const b = await timed('admin@acme.test', 'wrong-password-x');
    assert.equal(a.status, 401, a.text);
    assert.equal(b.status, 401, b.text);
    bodies.add(a.text);
    bodies.add(b.text);
    unknown.push(a.ms);
    wrong.push(b.ms);
  }
  assert.equal(bodies.size, 1, `bodies differ: ${[...bodies].join(' | ')}`);
  const mu = median(unknown);
  const mw = median(wrong);
  const diag = `median unknown ${mu.toFixed(1)} ms, wrong password ${mw.toFixed(1)} ms`;
  assert.ok(mu >= 10 && mw >= 10, `argon2 must really run: ${diag}`);
  const rel = Math.abs(mu - mw) / Math.max(mu, mw);
  assert.ok(rel <= 0.25 || Math.abs(mu - mw) < 40, `timing differs: ${diag}`);
  // and the right password still works afterwards (the account was not locked by this)
  const ok = await timed('admin@acme.test', 'demo-password');
  assert.equal(ok.status, 200, ok.text);
});
