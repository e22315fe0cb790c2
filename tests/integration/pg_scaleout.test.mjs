// Scale-out (DESIGN §1, §2): two switchboard nodes on one PostgreSQL database. A change made
// through node A's REST API, or directly in SQL, reaches realtime-js subscribers on node B
// (and A): the change-log triggers write `changes` in the writer's transaction, and every
// node's hub tails that table (NOTIFY only wakes nodes up). A token issued by one node is
// accepted by the other (the JWT secret lives in the shared database).
//
// Needs SB_TEST_PG_URL: cmake/pg.cmake runs this file under scripts/with-postgres.sh, which
// starts a throwaway PostgreSQL; without it the test fails: it is never silently skipped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';

import { api, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
if (!PG) throw new Error('SB_TEST_PG_URL not set: run under scripts/with-postgres.sh (cmake/pg.cmake does)');

let nodeA;
let nodeB;

function psql(query) {
  return execFileSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-Atc', query], {
    encoding: 'utf8',
    timeout: 20000,
  }).trim();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, { timeoutMs = 8000, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function subscribe(node, token, topic, binding) {
  const client = new RealtimeClient(node.wsUrl, { params: { apikey: token }, transport: WebSocket });
  const got = [];
  const ch = client.channel(topic).on('postgres_changes', binding, (p) => got.push(p));
  const subscribed = new Promise((resolve, reject) => {
    ch.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') resolve();
      if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err || new Error(status));
    });
  });
  return { client, ch, got, subscribed };
}

before(async () => {
  // A seeds the demo data; B starts on the migrated, seeded database.
  nodeA = await startServer({ db: PG, demo: true });
  nodeB = await startServer({ db: PG, demo: false });
});

after(async () => {
  await nodeA?.cleanup();
  await nodeB?.cleanup();
});

test('both nodes report the postgres backend and are ready', { timeout: 20000 }, async () => {
  for (const node of [nodeA, nodeB]) {
    const r = await api(node.url, 'GET', '/readyz');
    assert.equal(r.status, 200, r.text);
  }
});

test('a REST write on node A reaches a realtime subscriber on node B', { timeout: 30000 }, async () => {
  const adminA = await login(nodeA.url, 'admin@acme.test');
  const adminB = await login(nodeB.url, 'admin@acme.test');
  // A token from one node works on the other: the secret is shared through the database.
  const me = await api(nodeB.url, 'GET', '/api/v1/me', { token: adminA.access_token });
  assert.equal(me.status, 200, me.text);

  const sub = subscribe(nodeB, adminB.access_token, 'scaleout-users', {
    event: 'UPDATE',
    schema: 'public',
    table: 'users',
  });
  await sub.subscribed;
  try {
    const list = await api(nodeA.url, 'GET', '/api/v1/users?q=viewer%40acme.test', { token: adminA.access_token });
    assert.equal(list.status, 200, list.text);
    const viewer = list.json.data.find((u) => u.email === 'viewer@acme.test');
    assert.ok(viewer, 'viewer@acme.test listed');
    const name = `Renamed on A ${Date.now()}`;
    const r = await api(nodeA.url, 'PATCH', `/api/v1/users/${viewer.id}`, {
      token: adminA.access_token,
      body: { name },
    });
    assert.equal(r.status, 200, r.text);

    await until(() => sub.got.some((p) => p.new?.id === viewer.id && p.new?.name === name), {
      what: 'the UPDATE on node B',
    });
    const ev = sub.got.find((p) => p.new?.name === name);
    assert.equal(ev.eventType, 'UPDATE');
    assert.equal(ev.table, 'users');
    assert.equal(ev.old.id, viewer.id);
    assert.equal(ev.new.password_hash, undefined);
    // Node B's REST view agrees.
    const got = await api(nodeB.url, 'GET', `/api/v1/users/${viewer.id}`, { token: adminB.access_token });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.name ?? got.json.data?.name, name);
  } finally {
    await sub.client.removeAllChannels();
    sub.client.disconnect();
  }
});

test('a direct SQL write reaches subscribers on both nodes', { timeout: 30000 }, async () => {
  const tokens = [await login(nodeA.url, 'admin@acme.test'), await login(nodeB.url, 'admin@acme.test')];
  const subs = [nodeA, nodeB].map((node, i) =>
    subscribe(node, tokens[i].access_token, `scaleout-agents-${i}`, {
      event: 'UPDATE',
      schema: 'public',
      table: 'agent_status',
    }),
  );
  await Promise.all(subs.map((s) => s.subscribed));
  try {
    const id = psql(
      "SELECT a.id FROM agent_status a JOIN users u ON u.id = a.user_id WHERE u.email = 'agent2@acme.test'",
    );
    assert.match(id, /^[0-9a-f-]{36}$/);
    const reason = `sql ${Date.now()}`;
    psql(`UPDATE agent_status SET status = 'away', reason = '${reason}', version = version + 1 WHERE id = '${id}'`);
    for (const [i, s] of subs.entries()) {
      await until(() => s.got.some((p) => p.new?.id === id && p.new?.reason === reason), {
        what: `the SQL change on node ${i ? 'B' : 'A'}`,
      });
    }
    // Both nodes delivered the same row.
    const seqs = subs.map((s) => s.got.find((p) => p.new?.reason === reason));
    assert.equal(seqs[0].new.status, 'away');
    assert.equal(seqs[1].new.status, 'away');
  } finally {
    for (const s of subs) {
      await s.client.removeAllChannels();
      s.client.disconnect();
    }
  }
});
