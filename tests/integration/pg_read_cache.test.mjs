// The read cache on PostgreSQL (src/api/cache.c, store_read_generation): two nodes share one
// database, so a node cannot know at once that another one committed. The cache is off there:
// a list read on node A right after node B answered a PATCH shows the change, every time, and
// node A's /metrics counts no cache hits.
//
// Needs SB_TEST_PG_URL: cmake/pg.cmake runs this file under scripts/with-postgres.sh. Without
// it the test fails (it is never silently skipped).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
let a;
let b;

before(async () => {
  assert.ok(PG, 'SB_TEST_PG_URL must name a PostgreSQL database (cmake/pg.cmake sets it)');
  a = await startServer({ db: PG, demo: true });
  b = await startServer({ db: PG, demo: false });
});
after(async () => {
  await a?.cleanup();
  await b?.cleanup();
});

async function hits(node) {
  const r = await api(node.url, 'GET', '/metrics');
  const m = r.text.match(/^switchboard_http_read_cache_hits_total (\d+)$/m);
  assert.ok(m, 'the read cache counts its hits');
  return Number(m[1]);
}

test('a write on one node is seen at once by a list read on the other', async () => {
  const ta = (await login(a.url, 'admin@acme.test')).access_token;
  const tb = (await login(b.url, 'admin@acme.test')).access_token;
  const list = await api(a.url, 'GET', '/api/v1/agents', { token: ta });
  assert.equal(list.status, 200);
  const id = list.json.data[0].id;
  const statuses = ['online', 'busy', 'away'];
  for (let i = 0; i < 30; i++) {
    await api(a.url, 'GET', '/api/v1/agents', { token: ta });
    await api(a.url, 'GET', `/api/v1/agents/${id}`, { token: ta });
    const p = await api(b.url, 'PATCH', `/api/v1/agents/${id}`, { token: tb, body: { status: statuses[i % 3], reason: `pg ${i}` } });
    assert.equal(p.status, 200, p.text);
    const after = await api(a.url, 'GET', '/api/v1/agents', { token: ta });
    const row = after.json.data.find((x) => x.id === id);
    assert.equal(row.version, p.json.version, `iteration ${i}: node A's list after node B's PATCH`);
    const one = await api(a.url, 'GET', `/api/v1/agents/${id}`, { token: ta });
    assert.equal(one.json.reason, `pg ${i}`);
  }
  assert.equal(await hits(a), 0, 'no answer came from a cache on PostgreSQL');
});
