// Agent presence across nodes (DESIGN §1 scale-out; docs/realtime.md "Cluster"): an agent is
// set offline only when it has no realtime connection on any node for the grace period, and a
// node that dies (kill -9) does not leave its agents online: a live node takes them over.
//
// Needs SB_TEST_PG_URL: cmake/pg.cmake runs this file under scripts/with-postgres.sh. Without
// it the test fails (it is never silently skipped).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { api, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
const GRACE_MS = 1500;
const LEASE_MS = 2000;
const nodes = {};
const retired = []; // nodes killed and replaced
const sockets = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, what, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function start(demo) {
  return startServer({
    db: PG, demo,
    args: ['--login-attempts', '1000', '--login-ip-attempts', '10000', '--presence-grace', `${GRACE_MS}ms`,
      '--cluster-lease', `${LEASE_MS}ms`],
  });
}

// A realtime connection of token on node; resolves when open. close() resolves when closed.
function connect(node, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${node.wsUrl}/websocket?apikey=${encodeURIComponent(token)}&vsn=1.0.0`);
    sockets.push(ws);
    ws.on('open', () => resolve({
      ws,
      close: () => new Promise((r) => { ws.once('close', r); ws.close(); }),
    }));
    ws.on('error', reject);
  });
}

async function status(node, token, id) {
  const r = await api(node.url, 'GET', `/api/v1/agents/${id}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Log the agent in, find its agent row and set it online (as itself).
async function onlineAgent(email) {
  const s = await login(nodes.A.url, email);
  const admin = (await login(nodes.A.url, 'admin@acme.test')).access_token;
  const list = await api(nodes.A.url, 'GET', '/api/v1/agents', { token: admin });
  const agent = list.json.data.find((a) => a.user_id === s.user.id);
  assert.ok(agent, `agent row of ${email}`);
  const r = await api(nodes.A.url, 'PATCH', `/api/v1/agents/${agent.id}`, { token: s.access_token, body: { status: 'online' } });
  assert.equal(r.status, 200, r.text);
  return { token: s.access_token, admin, id: agent.id };
}

before(async () => {
  assert.ok(PG, 'SB_TEST_PG_URL must be set (cmake/pg.cmake runs this under scripts/with-postgres.sh)');
  nodes.A = await start(true);
  nodes.B = await start(false);
  nodes.C = await start(false);
});

after(async () => {
  for (const ws of sockets) ws.terminate();
  for (const n of Object.values(nodes)) await n.cleanup();
  // With a sanitizer build, a report in any node's stderr fails the suite.
  for (const n of [...Object.values(nodes), ...retired]) {
    const m = n.logs.join('').match(/(AddressSanitizer|LeakSanitizer|runtime error)[^\n]*/);
    assert.ok(!m, `sanitizer report from a node: ${m?.[0]}`);
  }
});

test('an agent still connected on B stays online when its last connection on A closes', { timeout: 60000 }, async () => {
  const ag = await onlineAgent('agent1@acme.test');
  const onA = await connect(nodes.A, ag.token);
  await sleep(300);
  const onB = await connect(nodes.B, ag.token);
  await sleep(300); // B's count reaches A over the bus
  await onA.close();
  await sleep(GRACE_MS + 2000);
  let row = await status(nodes.C, ag.admin, ag.id);
  assert.equal(row.status, 'online', 'A did not set the agent offline while B serves it');
  // The last connection anywhere goes: offline after the grace, by B.
  const t0 = Date.now();
  await onB.close();
  await until(async () => (await status(nodes.A, ag.admin, ag.id)).status === 'offline', 'offline after the grace', GRACE_MS + 5000);
  assert.ok(Date.now() - t0 >= GRACE_MS - 100, 'not before the grace');
  row = await status(nodes.A, ag.admin, ag.id);
  assert.equal(row.reason, 'disconnected');
});

test('the later disconnect decides: A closes last, after B', { timeout: 60000 }, async () => {
  const ag = await onlineAgent('agent2@acme.test');
  const onA = await connect(nodes.A, ag.token);
  const onB = await connect(nodes.B, ag.token);
  await sleep(300);
  await onB.close();
  await sleep(GRACE_MS / 2);
  await onA.close();
  const closedA = Date.now();
  // B's grace ends first; A's connection went later, so B leaves the decision to A.
  await sleep(GRACE_MS / 2 + 300);
  assert.equal((await status(nodes.C, ag.admin, ag.id)).status, 'online', 'still within the grace of the last disconnect');
  await until(async () => (await status(nodes.C, ag.admin, ag.id)).status === 'offline', 'offline after the last grace', GRACE_MS + 5000);
  assert.ok(Date.now() - closedA >= GRACE_MS - 100);
});

test('kill -9 of the node holding an agent: a live node sets it offline', { timeout: 60000 }, async () => {
  const ag = await onlineAgent('agent3@acme.test');
  await connect(nodes.C, ag.token);
  await sleep(500);
  nodes.C.proc.kill('SIGKILL');
  await nodes.C.exited;
  retired.push(nodes.C);
  const t0 = Date.now();
  await until(async () => (await status(nodes.A, ag.admin, ag.id)).status === 'offline',
    'offline after lease + grace', LEASE_MS + GRACE_MS + 6000);
  const took = Date.now() - t0;
  assert.ok(took >= GRACE_MS - 500, `not before the grace (${took} ms)`);
  const row = await status(nodes.B, ag.admin, ag.id);
  assert.equal(row.reason, 'disconnected');
  assert.equal(row.updated_by, null, 'set by the system');
});
