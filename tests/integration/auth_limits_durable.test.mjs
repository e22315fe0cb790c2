// Login limits survive restarts (the counters live in the database, login_events): a
// (account, IP) pair that used up its failures is still refused after a restart, and other
// pairs are not affected. tests/integration/pg_cluster_limits.test.mjs shows the same
// counters shared by two nodes on PostgreSQL.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { api, startServer } from './lib/server.mjs';

let s;
before(async () => { s = await startServer({ args: ['--login-attempts', '3'] }); });
after(async () => { await s?.cleanup(); });

const attempt = (password, email = 'agent1@acme.test') =>
  api(s.url, 'POST', '/api/v1/auth/login', { body: { email, password } });

test('a used-up (account, IP) budget is still used up after a restart', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await attempt('wrong-password')).status, 401);
  const limited = await attempt('demo-password');
  assert.equal(limited.status, 429, limited.text);
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);

  await s.restart();

  const still = await attempt('demo-password');
  assert.equal(still.status, 429, 'the counter survived the restart');
  assert.ok(Number(still.headers.get('retry-after')) >= 1);
  // Another account from the same address is not locked out.
  assert.equal((await attempt('demo-password', 'agent2@acme.test')).status, 200);
  // The events are in the database, keyed by what they count, and bounded per key.
  const rows = Number(execFileSync('sqlite3', ['-cmd', '.timeout 5000', s.dbPath,
    "select count(*) from login_events where key like '%agent1@acme.test%'"], { encoding: 'utf8' }).trim());
  assert.ok(rows >= 3 && rows <= 12, `login_events rows for the account: ${rows}`);
});
