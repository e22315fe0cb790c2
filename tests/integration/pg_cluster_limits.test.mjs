// Login limits hold across nodes (DESIGN §1 scale-out): two nodes on one PostgreSQL database
// share the login_events counters, so failures spent on node A count on node B, and a
// restart forgets none of them.
//
// Needs SB_TEST_PG_URL: cmake/pg.cmake runs this file under scripts/with-postgres.sh, which
// starts a throwaway PostgreSQL. Without it the test fails (it is never silently skipped).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { api, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
let nodeA;
let nodeB;

before(async () => {
  assert.ok(PG, 'SB_TEST_PG_URL must be set (cmake/pg.cmake runs this under scripts/with-postgres.sh)');
  nodeA = await startServer({ db: PG, demo: true, args: ['--login-attempts', '3'] });
  nodeB = await startServer({ db: PG, demo: false, args: ['--login-attempts', '3'] });
});
after(async () => {
  await nodeB?.cleanup();
  await nodeA?.cleanup();
});

const attempt = (node, password, email = 'agent5@acme.test') =>
  api(node.url, 'POST', '/api/v1/auth/login', { body: { email, password } });

test('failures on A count on B, and survive a restart of both', async () => {
  assert.equal((await attempt(nodeA, 'wrong-1')).status, 401);
  assert.equal((await attempt(nodeB, 'wrong-2')).status, 401);
  assert.equal((await attempt(nodeA, 'wrong-3')).status, 401);
  for (const node of [nodeA, nodeB]) {
    const r = await attempt(node, 'demo-password');
    assert.equal(r.status, 429, r.text);
    assert.ok(Number(r.headers.get('retry-after')) >= 1);
  }
  await nodeA.restart();
  await nodeB.restart();
  assert.equal((await attempt(nodeB, 'demo-password')).status, 429);
  assert.equal((await attempt(nodeA, 'demo-password')).status, 429);
  // Other accounts from the same address log in.
  assert.equal((await attempt(nodeB, 'demo-password', 'agent4@acme.test')).status, 200);
});
