// The audit list's `total` on a large log: past 10,000 matching entries the count stops and
// says so (total 10,000, "total_capped": true), so that a viewer re-counting after every burst of changes costs at
// most that many rows however long the log has grown; below the cap the count is exact. Also
// the planner statistics of SQLite migration 10: a tenant admin's time window reads through
// the time index (the answers are the same either way; the plan is pinned by the C
// conformance test, the answers here). 10,050 entries are seeded in bulk with the sqlite3 CLI
// into the running server's file (another process's write shows within a second).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const CAP = 10000;
const SEEDED = 10050;
let s;
const tok = {};
let acme;

const sql = (q) => execFileSync('sqlite3', ['-cmd', '.timeout 10000', s.dbPath, q], { encoding: 'utf8' });

before(async () => {
  s = await startServer();
  for (const [k, e] of [['root', 'root@demo.test'], ['admin', 'admin@acme.test'], ['gadmin', 'admin@globex.test']]) {
    tok[k] = (await login(s.url, e)).access_token;
  }
  const clients = await api(s.url, 'GET', '/api/v1/clients?limit=50', { token: tok.root });
  acme = clients.json.data.find((c) => c.slug === 'acme').id;
  // One entry a second from 2026-01-01 for acme, action test.bulk (the chain's hashes are not
  // the point here: /audit/verify is tested elsewhere).
  sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${SEEDED})
       INSERT INTO audit_logs (id, at, actor_id, actor_email, client_id, action, entity_type, entity_id,
                               prev_hash, hash)
       SELECT printf('00000000-0000-7000-8000-%012d', i),
              strftime('%Y-%m-%dT%H:%M:%fZ', '2026-01-01T00:00:00Z', '+' || (i - 1) || ' seconds'),
              NULL, NULL, '${acme}', 'test.bulk', 'client', '${acme}', 'x', 'x'
       FROM n`);
  // Another process's write shows within a second (the read cache's age bound); this key
  // was never read before, so it waits only for the hub and the cache's generation.
  for (let i = 0; i < 50; i++) {
    if ((await audit(tok.root, 'limit=1&action=test.bulk')).total > 0) break;
    await new Promise((res) => setTimeout(res, 100));
  }
});
after(async () => {
  await s?.cleanup();
});

async function audit(token, query) {
  const r = await api(s.url, 'GET', `/api/v1/audit?${query}`, { token });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

// Every page of the tenant admin's list in pages of 7: each entry once, newest first by time.
async function walk(query) {
  const seen = [];
  let cursor = null;
  for (let n = 0; n < 30; n++) {
    const page = await audit(tok.admin, `limit=7&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    seen.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  assert.equal(new Set(seen.map((e) => e.id)).size, seen.length, query);
  assert.ok(seen.every((e, i) => i === 0 || e.at < seen[i - 1].at), `${query}: newest first by time`);
  return seen;
}

test('past 10,000 entries the total stops there and says so, on every page', async () => {
  for (const who of ['root', 'admin']) {
    const first = await audit(tok[who], 'limit=5&sort=-seq');
    assert.equal(first.total, CAP, who);
    assert.equal(first.total_capped, true, who);
    assert.equal(first.data.length, 5);
    assert.ok(first.next_cursor);
    const second = await api(s.url, 'GET', `/api/v1/audit?limit=5&cursor=${encodeURIComponent(first.next_cursor)}`,
      { token: tok[who] });
    assert.equal(second.status, 200);
    assert.equal(second.json.total, CAP);
    assert.equal(second.json.total_capped, true);
    assert.ok(second.json.data.every((e) => e.seq < first.data[4].seq));
  }
  // The filter alone matches more than the cap too.
  const bulk = await audit(tok.admin, 'limit=5&action=test.bulk');
  assert.equal(bulk.total, CAP);
  assert.equal(bulk.total_capped, true);
});

test('below the cap the total is exact and carries no flag', async () => {
  // 2026-01-01T00:00:00Z .. 00:01:39Z: the first 100 seeded entries, for the tenant admin
  // (through the time index) and the super admin.
  const win = 'from=2026-01-01T00:00:00Z&to=2026-01-01T00:01:39Z';
  for (const who of ['root', 'admin']) {
    const r = await audit(tok[who], `limit=5&${win}`);
    assert.equal(r.total, 100, who);
    assert.equal('total_capped' in r, false, who);
    assert.equal(r.data[0].at, '2026-01-01T00:01:39.000Z');
    const all = await api(s.url, 'GET', `/api/v1/audit?limit=500&${win}`, { token: tok[who] });
    assert.equal(all.json.data.length, 100);
    assert.equal(new Set(all.json.data.map((e) => e.seq)).size, 100);
  }
  // A window's pages come newest first by time, each entry once.
  assert.equal((await walk(win)).length, 100);
  // Another tenant sees none of them, and its own count is exact.
  const g = await audit(tok.gadmin, 'limit=5&action=test.bulk');
  assert.equal(g.total, 0);
  assert.equal('total_capped' in g, false);
  const gAll = await audit(tok.gadmin, 'limit=5');
  assert.ok(gAll.total > 0 && gAll.total < CAP, String(gAll.total));
  assert.equal('total_capped' in gAll, false);
  // Exactly the cap's worth of matches is still exact; one more is capped.
  const upTo = (n) => 'from=2026-01-01T00:00:00Z&to=' + new Date(Date.UTC(2026, 0, 1) + (n - 1) * 1000).toISOString();
  const e = await audit(tok.admin, `limit=5&action=test.bulk&${upTo(CAP)}`);
  assert.equal(e.total, CAP);
  assert.equal('total_capped' in e, false);
  const e1 = await audit(tok.admin, `limit=5&action=test.bulk&${upTo(CAP + 1)}`);
  assert.equal(e1.total, CAP);
  assert.equal(e1.total_capped, true);
});

test("an actor's and an entity's entries come newest first by time, each once, also within a window", async () => {
  // 60 entries of one actor about one entity, written in the reverse order of their times
  // (as after a clock step back): seq ascends while `at` descends, so the two orders differ.
  const actor = '00000000-0000-7000-8000-0000000000aa';
  const entity = '00000000-0000-7000-8000-0000000000bb';
  sql(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60)
       INSERT INTO audit_logs (id, at, actor_id, actor_email, client_id, action, entity_type, entity_id,
                               prev_hash, hash)
       SELECT printf('00000000-0000-7000-8001-%012d', i),
              strftime('%Y-%m-%dT%H:%M:%fZ', '2026-02-01T00:00:00Z', '+' || (60 - i) || ' seconds'),
              '${actor}', 'someone@acme.test', '${acme}', 'test.order', 'agent_status', '${entity}', 'x', 'x'
       FROM n`);
  for (let i = 0; i < 50; i++) {
    if ((await audit(tok.admin, `limit=1&actor_id=${actor}`)).total === 60) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  const byActor = await walk(`actor_id=${actor}`);
  assert.equal(byActor.length, 60);
  assert.equal(byActor[0].at, '2026-02-01T00:00:59.000Z');
  assert.ok(byActor.every((e, i) => i === 0 || e.seq > byActor[i - 1].seq), 'here time order is seq ascending');
  const byEntity = await walk(`entity_type=agent_status&entity_id=${entity}`);
  assert.deepEqual(byEntity.map((e) => e.id), byActor.map((e) => e.id));
  // Within a window: 20 seconds of them.
  const win = 'from=2026-02-01T00:00:10Z&to=2026-02-01T00:00:29Z';
  const inWin = await walk(`actor_id=${actor}&${win}`);
  assert.equal(inWin.length, 20);
  assert.equal(inWin[0].at, '2026-02-01T00:00:29.000Z');
  assert.equal(inWin[19].at, '2026-02-01T00:00:10.000Z');
  assert.equal((await audit(tok.admin, `limit=1&actor_id=${actor}&${win}`)).total, 20);
  assert.equal((await walk(`entity_type=agent_status&entity_id=${entity}&${win}`)).length, 20);
  // An explicit sort still rules, and the entries stay the tenant's.
  const bySeq = await audit(tok.admin, `limit=60&actor_id=${actor}&sort=-seq`);
  assert.ok(bySeq.data.every((e, i) => i === 0 || e.seq < bySeq.data[i - 1].seq));
  assert.equal((await audit(tok.gadmin, `limit=1&actor_id=${actor}`)).total, 0);
});
