// Agent status history retention against the real binary: with --history-retention the jobs
// thread deletes status intervals that ended longer ago than it (at start, then every minute),
// keeps the rest and every agent's current interval however old, and the statistics of a
// window before the retention then find nothing there; without it (the default) nothing is
// deleted. Old intervals are written with the sqlite3 CLI while the server is stopped.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, test } from 'node:test';

import { BIN, api, login, startServer } from './lib/server.mjs';

const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sql = (s, q) => execFileSync('sqlite3', ['-cmd', '.timeout 10000', s.dbPath, q], { encoding: 'utf8' }).trim();
const DAY = 86400000;
const iso = (ms) => new Date(ms).toISOString();

// A server with args; its agent1@acme.test gets, while stopped: 3 closed intervals that ended
// 100 days ago, one that ended 10 days ago, and an open one begun 200 days ago replaces its
// current one (as if it had not changed status since).
async function setup(args) {
  const s = await startServer({ args });
  servers.push(s);
  const agent = sql(s, "SELECT a.id FROM agent_status a JOIN users u ON u.id = a.user_id WHERE u.email = 'agent1@acme.test'");
  const client = sql(s, `SELECT client_id FROM agent_status WHERE id = '${agent}'`);
  await s.stop();
  const now = Date.now();
  const row = (id, status, start, end) =>
    `('${id}', '${agent}', '${client}', '${status}', '${iso(start)}', ${end === null ? 'NULL' : `'${iso(end)}'`})`;
  sql(s, `DELETE FROM agent_status_history WHERE agent_id = '${agent}';
          INSERT INTO agent_status_history (id, agent_id, client_id, status, started_at, ended_at) VALUES
          ${row('00000000-0000-7000-8000-000000000001', 'online', now - 103 * DAY, now - 102 * DAY)},
          ${row('00000000-0000-7000-8000-000000000002', 'busy', now - 102 * DAY, now - 101 * DAY)},
          ${row('00000000-0000-7000-8000-000000000003', 'away', now - 101 * DAY, now - 100 * DAY)},
          ${row('00000000-0000-7000-8000-000000000004', 'busy', now - 11 * DAY, now - 10 * DAY)},
          ${row('00000000-0000-7000-8000-000000000005', 'online', now - 200 * DAY, null)};`);
  await s.start();
  const root = (await login(s.url, 'root@demo.test')).access_token;
  return { s, agent, root, now };
}

const ids = (s, agent) => sql(s, `SELECT group_concat(substr(id, 36), ',') FROM (SELECT id FROM agent_status_history WHERE agent_id = '${agent}' ORDER BY id)`);

test('intervals that ended before the retention are deleted, the rest and the open one kept', async () => {
  const { s, agent, root, now } = await setup(['--history-retention', '30d']);
  const end = Date.now() + 10000;
  while (ids(s, agent) !== '4,5') {
    assert.ok(Date.now() < end, `pruned within 10 s (left: ${ids(s, agent)})`);
    await sleep(100);
  }
  // Statistics of the pruned days find nothing there but the open interval, which covers them.
  const w = `from=${iso(now - 103 * DAY)}&to=${iso(now - 100 * DAY)}`;
  const st = await api(s.url, 'GET', `/api/v1/agents/stats?${w}`, { token: root });
  assert.equal(st.status, 200);
  const mine = st.json.agents.find((a) => a.agent_id === agent);
  assert.equal(mine.ms.busy, 0);
  assert.equal(mine.ms.away, 0);
  assert.equal(mine.ms.online, 3 * DAY);
  // The history list starts with the kept interval of 10 days ago.
  const h = await api(s.url, 'GET', `/api/v1/agents/${agent}/history?limit=10`, { token: root });
  assert.deepEqual(h.json.data.map((r) => r.status), ['online', 'busy']);
});

test('without a retention nothing is deleted', async () => {
  const { s, agent } = await setup([]);
  await sleep(1500); // several ticks of the jobs thread
  assert.equal(ids(s, agent), '1,2,3,4,5');
});

test('a malformed retention is refused at start', () => {
  let out = '';
  try {
    execFileSync(BIN,
      ['serve', '--history-retention', 'soon', '--listen', '127.0.0.1:0', '--db', 'sqlite::memory:'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10000 });
  } catch (e) {
    out = String(e.stderr);
    assert.notEqual(e.status, 0);
  }
  assert.match(out, /history.retention/);
});
