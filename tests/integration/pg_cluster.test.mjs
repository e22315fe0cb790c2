// The cluster bus (DESIGN §1 scale-out, docs/realtime.md "Cluster"): three switchboard nodes on
// one PostgreSQL database behave as one for broadcast and presence. Clients are unchanged
// realtime-js clients on different nodes. Covers: broadcast both ways with the sender's order,
// presence join/leave across nodes, tenant scoping on every node, kill -9 of a node (its
// presences leave everywhere within the lease; its client, behind a small loopback balancer,
// reconnects to another node), and a PostgreSQL restart under load (the nodes recover by
// themselves; postgres_changes has no gap and no duplicate).
//
// Needs SB_TEST_PG_URL and SB_TEST_PG_CTL: cmake/pg.cmake runs this file under
// scripts/with-postgres.sh. Without them the test fails (it is never silently skipped).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';

import { RawClient } from './lib/rt_helpers.mjs';
import { api, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
const PG_CTL = process.env.SB_TEST_PG_CTL;
const LEASE_MS = 2000;
const nodes = {};
const retired = []; // nodes killed and replaced
const clients = [];
const tokens = {};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(pred, what, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function start(demo) {
  return startServer({
    db: PG, demo,
    args: ['--login-attempts', '1000', '--login-ip-attempts', '10000', '--cluster-lease', `${LEASE_MS}ms`],
  });
}

async function token(email) {
  if (!tokens[email]) tokens[email] = (await login(nodes.A.url, email)).access_token;
  return tokens[email];
}

async function client(endpoint, email) {
  const c = new RealtimeClient(endpoint, {
    params: { apikey: await token(email) }, transport: WebSocket, reconnectAfterMs: () => 200,
  });
  clients.push(c);
  return c;
}

function subscribed(ch) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`subscribe ${ch.topic} timed out`)), 8000);
    ch.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') { clearTimeout(timer); resolve(ch); }
      if (status === 'CHANNEL_ERROR') { clearTimeout(timer); reject(err || new Error(status)); }
    });
  });
}

// A channel on node for email, collecting broadcasts of event `ev` in got.
async function bcChannel(node, email, topic, got, ev = 'n') {
  const c = await client(node.wsUrl, email);
  const ch = c.channel(topic).on('broadcast', { event: ev }, (m) => got.push(m.payload));
  return subscribed(ch);
}

async function presChannel(endpoint, email, topic, key, onLeave = () => {}) {
  const c = await client(endpoint, email);
  const ch = c.channel(topic, { config: { presence: { key } } }).on('presence', { event: 'sync' }, () => {})
    .on('presence', { event: 'leave' }, onLeave);
  await subscribed(ch);
  return { c, ch };
}

const keys = (ch) => Object.keys(ch.presenceState()).sort();

// One counter or gauge of node's /metrics.
async function metric(node, name) {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  const m = text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

before(async () => {
  assert.ok(PG, 'SB_TEST_PG_URL must be set (cmake/pg.cmake runs this under scripts/with-postgres.sh)');
  assert.ok(PG_CTL, 'SB_TEST_PG_CTL must be set (scripts/with-postgres.sh exports it)');
  nodes.A = await start(true);
  nodes.B = await start(false);
  nodes.C = await start(false);
});

after(async () => {
  for (const c of clients) c.disconnect();
  for (const n of Object.values(nodes)) await n.cleanup();
  // With a sanitizer build, a report in any node's stderr fails the suite.
  for (const n of [...Object.values(nodes), ...retired]) {
    const m = n.logs.join('').match(/(AddressSanitizer|LeakSanitizer|runtime error)[^\n]*/);
    assert.ok(!m, `sanitizer report from a node: ${m?.[0]}`);
  }
});

test('broadcast crosses nodes both ways, keeping the sender order per topic', { timeout: 60000 }, async () => {
  const N = 200;
  const onA = [];
  const onB = [];
  const onC = [];
  const ca = await bcChannel(nodes.A, 'agent1@acme.test', 'order', onA);
  const cb = await bcChannel(nodes.B, 'agent2@acme.test', 'order', onB);
  await bcChannel(nodes.C, 'agent3@acme.test', 'order', onC);
  for (let i = 0; i < N; i++) ca.send({ type: 'broadcast', event: 'n', payload: { from: 'A', i } });
  for (let i = 0; i < N; i++) cb.send({ type: 'broadcast', event: 'n', payload: { from: 'B', i } });
  await until(() => onB.filter((p) => p.from === 'A').length === N, 'A -> B');
  await until(() => onA.filter((p) => p.from === 'B').length === N, 'B -> A');
  await until(() => onC.length === 2 * N, 'A and B -> C');
  await sleep(300);
  const seq = (list, from) => list.filter((p) => p.from === from).map((p) => p.i);
  const want = [...Array(N).keys()];
  assert.deepEqual(seq(onB, 'A'), want, 'B gets A\'s messages once each, in order');
  assert.deepEqual(seq(onA, 'B'), want, 'A gets B\'s messages once each, in order');
  assert.deepEqual(seq(onC, 'A'), want);
  assert.deepEqual(seq(onC, 'B'), want);
  assert.equal(seq(onA, 'A').length, 0, 'self stays off (a local decision)');
  // A payload too large for one NOTIFY goes through bus_spill and arrives whole.
  const big = 'x'.repeat(50000);
  ca.send({ type: 'broadcast', event: 'n', payload: { from: 'A', big } });
  await until(() => onB.some((p) => p.big), 'large broadcast A -> B');
  assert.equal(onB.find((p) => p.big).big, big);
  assert.ok(await metric(nodes.A, 'switchboard_bus_spilled_total') >= 1);
  // Only client broadcasts travel: each node's dashboard metrics broadcasts stay local.
  assert.equal(await metric(nodes.A, 'switchboard_cluster_broadcasts_sent_total'), N + 1);
  assert.equal(await metric(nodes.B, 'switchboard_cluster_broadcasts_sent_total'), N);
  assert.equal(await metric(nodes.C, 'switchboard_cluster_broadcasts_received_total'), 2 * N + 1);
  assert.equal(await metric(nodes.B, 'switchboard_bus_dropped_total'), 0);
});

test('tenants stay apart on every node', { timeout: 30000 }, async () => {
  const acmeB = [];
  const globexB = [];
  const globexC = [];
  const ca = await bcChannel(nodes.A, 'agent1@acme.test', 'shared-name', []);
  await bcChannel(nodes.B, 'agent2@acme.test', 'shared-name', acmeB);
  await bcChannel(nodes.B, 'agent1@globex.test', 'shared-name', globexB);
  const cg = await bcChannel(nodes.C, 'agent2@globex.test', 'shared-name', globexC);
  ca.send({ type: 'broadcast', event: 'n', payload: { t: 'acme' } });
  cg.send({ type: 'broadcast', event: 'n', payload: { t: 'globex' } });
  await until(() => acmeB.length === 1 && globexB.length === 1, 'both tenants deliver');
  // Presence in one tenant is invisible to the other.
  const pa = await presChannel(nodes.A.wsUrl, 'agent3@acme.test', 'shared-pres', 'acme-agent');
  await pa.ch.track({ who: 'acme' });
  const pg = await presChannel(nodes.B.wsUrl, 'agent3@globex.test', 'shared-pres', 'globex-agent');
  await pg.ch.track({ who: 'globex' });
  const pa2 = await presChannel(nodes.C.wsUrl, 'agent4@acme.test', 'shared-pres', 'acme-2');
  await pa2.ch.track({ who: 'acme 2' });
  await until(() => keys(pa2.ch).length === 2, 'acme on C sees acme on A');
  await sleep(500);
  assert.deepEqual(acmeB, [{ t: 'acme' }]);
  assert.deepEqual(globexB, [{ t: 'globex' }]);
  assert.deepEqual(globexC, [], 'the sender does not get its own broadcast');
  assert.deepEqual(keys(pa2.ch), ['acme-2', 'acme-agent']);
  assert.deepEqual(keys(pg.ch), ['globex-agent'], 'globex never sees acme presences');
  assert.deepEqual(keys(pa.ch), ['acme-2', 'acme-agent']);
});

test('presence joins and leaves across nodes', { timeout: 30000 }, async () => {
  const a = await presChannel(nodes.A.wsUrl, 'agent1@acme.test', 'lobby', 'alice');
  await a.ch.track({ name: 'Alice' });
  const b = await presChannel(nodes.B.wsUrl, 'agent2@acme.test', 'lobby', 'bob');
  await until(() => b.ch.presenceState().alice, 'B sees alice in presence_state');
  assert.equal(b.ch.presenceState().alice[0].name, 'Alice');
  await b.ch.track({ name: 'Bob' });
  const c = await presChannel(nodes.C.wsUrl, 'agent3@acme.test', 'lobby', 'carol');
  await c.ch.track({ name: 'Carol' });
  for (const x of [a, b, c]) await until(() => keys(x.ch).join() === 'alice,bob,carol', 'everyone sees everyone');
  await b.ch.untrack();
  await until(() => keys(a.ch).join() === 'alice,carol' && keys(c.ch).join() === 'alice,carol', 'bob untracked');
  a.c.disconnect();
  await until(() => keys(b.ch).join() === 'carol' && keys(c.ch).join() === 'carol', 'alice gone after disconnect');
  // A second track updates the entry. (realtime-js 2.x then keeps a stale copy of the old
  // meta on its side, its presence adapter drops phx_ref while handling the join, so only
  // the arrival of the new meta is checked.)
  await c.ch.track({ name: 'Carol', mood: 'busy' });
  await until(() => b.ch.presenceState().carol?.some((m) => m.mood === 'busy'), 'update reaches B');
});

// A loopback TCP balancer in front of the nodes: each connection goes to the first live
// backend in the list, so when one dies its clients come back through another.
function balancer(ports) {
  const live = new Set(ports);
  const server = net.createServer((sock) => {
    const port = ports.find((p) => live.has(p));
    const up = net.connect(port, '127.0.0.1');
    sock.pipe(up).pipe(sock);
    const end = () => { sock.destroy(); up.destroy(); };
    up.on('error', end); sock.on('error', end); up.on('close', end); sock.on('close', end);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    server, live, url: `ws://127.0.0.1:${server.address().port}/realtime/v1`,
  })));
}

test('kill -9 of a node: its presences leave everywhere within the lease and its client moves', { timeout: 60000 }, async () => {
  const lb = await balancer([nodes.C.port, nodes.A.port]);
  try {
    const a = await presChannel(nodes.A.wsUrl, 'agent1@acme.test', 'doomed', 'watcher-a');
    const leaves = [];
    const b = await presChannel(nodes.B.wsUrl, 'agent2@acme.test', 'doomed', 'watcher-b',
      ({ key }) => leaves.push({ key, at: Date.now() }));
    const got = [];
    const c = await client(lb.url, 'agent3@acme.test');
    const cch = c.channel('doomed', { config: { presence: { key: 'victim' } } })
      .on('broadcast', { event: 'n' }, (m) => got.push(m.payload));
    await subscribed(cch);
    await cch.track({ on: 'C' });
    await until(() => a.ch.presenceState().victim && b.ch.presenceState().victim, 'victim visible on A and B');
    // A postgres_changes subscriber on C, which will resume on another node.
    const admin = await token('admin@acme.test');
    const agentId = (await api(nodes.A.url, 'GET', '/api/v1/agents', { token: admin })).json.data[1].id;
    const binding = { event: 'UPDATE', schema: 'public', table: 'agent_status', filter: `id=eq.${agentId}` };
    const raw = await new RawClient(nodes.C.wsUrl, admin).open();
    const joined = await raw.join('realtime:resume', { postgres_changes: [binding] });
    assert.equal(joined.payload.status, 'ok');
    const patch = (reason) => api(nodes.A.url, 'PATCH', `/api/v1/agents/${agentId}`, { token: admin, body: { status: 'busy', reason } });
    assert.equal((await patch('before kill')).status, 200);
    await until(() => raw.events('postgres_changes').length === 1, 'change before the kill on C');
    const lastSeq = raw.events('postgres_changes')[0].payload.data.seq;
    const t0 = Date.now();
    nodes.C.proc.kill('SIGKILL');
    await nodes.C.exited;
    lb.live.delete(nodes.C.port);
    const bound = LEASE_MS + 1500;
    await until(() => !a.ch.presenceState().victim && !b.ch.presenceState().victim, 'victim leaves A and B', bound + 2000);
    const leave = leaves.find((l) => l.key === 'victim');
    assert.ok(leave, 'B got a leave diff for the victim');
    assert.ok(leave.at - t0 <= bound, `leave after ${leave.at - t0} ms, bound ${bound} ms`);
    // The killed node's client reconnects (through the balancer, to A) and rejoins.
    await until(() => cch.state === 'joined' && c.isConnected(), 'client rejoined on another node', 15000);
    await cch.track({ on: 'A' });
    await until(() => b.ch.presenceState().victim?.some((m) => m.on === 'A'), 'victim back, tracked on A, seen on B');
    b.ch.send({ type: 'broadcast', event: 'n', payload: { after: 'kill' } });
    await until(() => got.some((p) => p.after === 'kill'), 'broadcast from B reaches the moved client');
    // The raw subscriber resumes on B from its last seq: what happened meanwhile, no gap.
    assert.equal((await patch('during outage')).status, 200);
    const back = await new RawClient(nodes.B.wsUrl, admin).open();
    try {
      const r = await back.join('realtime:resume', { postgres_changes: [binding], resume: { since: lastSeq } });
      assert.equal(r.payload.status, 'ok');
      const resumed = await until(() => back.events('system').find((m) => m.payload.message === 'resumed'), 'resumed');
      assert.equal(resumed.payload.recovered, true);
      const evs = back.events('postgres_changes').map((m) => m.payload.data);
      assert.deepEqual(evs.map((d) => d.record.reason), ['during outage']);
      assert.equal(evs[0].seq > lastSeq, true);
    } finally {
      back.close();
      raw.close();
    }
  } finally {
    lb.server.close();
  }
  retired.push(nodes.C);
  nodes.C = await start(false);
});

test('a PostgreSQL restart under load: nodes recover by themselves; changes have no gap and no duplicate', { timeout: 120000 }, async () => {
  const admin = (await login(nodes.A.url, 'admin@acme.test')).access_token;
  const agents = (await api(nodes.A.url, 'GET', '/api/v1/agents', { token: admin })).json.data;
  const agent = agents[0];
  const events = [];
  const cb = await client(nodes.B.wsUrl, 'admin@acme.test');
  const ch = cb.channel('changes')
    .on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'agent_status', filter: `id=eq.${agent.id}` },
      (e) => events.push(e));
  await subscribed(ch);
  const presB = await presChannel(nodes.B.wsUrl, 'agent2@acme.test', 'survivor', 'on-b');
  await presB.ch.track({ n: 1 });
  const presA = await presChannel(nodes.A.wsUrl, 'agent1@acme.test', 'survivor', 'on-a');
  await until(() => presA.ch.presenceState()['on-b'], 'presence before the restart');

  const written = [];
  let stop = false;
  const writer = (async () => {
    for (let i = 0; i < 400 && !stop; i++) {
      const r = await api(nodes.A.url, 'PATCH', `/api/v1/agents/${agent.id}`,
        { token: admin, body: { status: i % 2 ? 'busy' : 'away', reason: `w${i}` } }).catch(() => null);
      if (r?.status === 200) written.push(r.json.version ?? r.json.data?.version);
      await sleep(25);
    }
  })();
  await until(() => written.length >= 10, 'writes before the restart', 20000);
  execFileSync(PG_CTL, ['restart'], { stdio: 'ignore', timeout: 60000 });
  const afterRestart = written.length;
  await until(() => written.length >= afterRestart + 10, 'writes succeed again after the restart', 40000);
  stop = true;
  await writer;
  await until(() => events.length >= written.length, `all ${written.length} changes delivered on B`, 20000);
  await sleep(1500);
  const versions = events.map((e) => e.new.version);
  assert.deepEqual(versions, written, 'every committed write once, in order');

  // The bus is back too: broadcast and presence cross nodes again.
  const gotB = [];
  const ba = await bcChannel(nodes.A, 'agent3@acme.test', 'after-restart', []);
  await bcChannel(nodes.B, 'agent4@acme.test', 'after-restart', gotB);
  await until(async () => {
    ba.send({ type: 'broadcast', event: 'n', payload: { k: 1 } });
    await sleep(200);
    return gotB.length > 0;
  }, 'broadcast A -> B after the restart', 20000);
  await presB.ch.track({ n: 2 });
  await until(() => presA.ch.presenceState()['on-b']?.some((m) => m.n === 2), 'presence update A <- B after the restart', 20000);
  assert.ok(presA.ch.presenceState()['on-b'], 'presences survived the restart');
  for (const n of [nodes.A, nodes.B]) {
    assert.ok(await metric(n, 'switchboard_bus_reconnects_total') >= 2, 'listener and publisher reconnected');
    assert.equal(await metric(n, 'switchboard_cluster_nodes'), 3, 'every node still sees three');
  }
});

test('the database down for longer than the lease: no node is declared gone, no presence flaps', { timeout: 120000 }, async () => {
  const leaves = [];
  const onA = await presChannel(nodes.A.wsUrl, 'agent1@acme.test', 'outage', 'watcher',
    ({ key }) => leaves.push(key));
  const onB = await presChannel(nodes.B.wsUrl, 'agent2@acme.test', 'outage', 'steady');
  await onB.ch.track({ on: 'B' });
  await until(() => onA.ch.presenceState().steady, 'steady seen on A');
  const expired = {};
  for (const k of ['A', 'B', 'C']) expired[k] = await metric(nodes[k], 'switchboard_cluster_nodes_expired_total');
  execFileSync(PG_CTL, ['stop'], { stdio: 'ignore', timeout: 60000 });
  await sleep(2 * LEASE_MS + 500);
  execFileSync(PG_CTL, ['start'], { stdio: 'ignore', timeout: 60000 });
  const gotB = [];
  const ba = await bcChannel(nodes.A, 'agent3@acme.test', 'after-outage', []);
  await bcChannel(nodes.B, 'agent4@acme.test', 'after-outage', gotB);
  await until(async () => {
    ba.send({ type: 'broadcast', event: 'n', payload: { k: 1 } });
    await sleep(200);
    return gotB.length > 0;
  }, 'broadcast A -> B after the outage', 30000);
  await sleep(LEASE_MS);
  assert.deepEqual(leaves, [], 'no leave diff for a node that stayed alive');
  assert.ok(onA.ch.presenceState().steady);
  for (const k of ['A', 'B', 'C']) {
    assert.equal(await metric(nodes[k], 'switchboard_cluster_nodes_expired_total'), expired[k], `node ${k} expired nobody`);
    assert.equal(await metric(nodes[k], 'switchboard_cluster_nodes'), 3);
  }
});
