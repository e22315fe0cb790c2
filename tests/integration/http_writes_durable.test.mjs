// Acknowledged writes survive a crash (SQLite group commit, issue 12): 16 clients PATCH the
// demo tenant's agents at once, mixed with requests that fail inside their transaction (a bad
// status: 422; a stale expected_version: 409); the server is killed with SIGKILL while
// requests are in flight. After a restart on the same database every PATCH that was answered
// 200 is there (its audit entry, the agent's version at least the acknowledged one), no failed
// request left a trace, and the audit chain verifies.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api, login } from './lib/server.mjs';

let s;
after(async () => { await s?.cleanup(); });

const CLIENTS = 16;
const KILL_AFTER_ACKS = 300;
const LOAD_DEADLINE_MS = 60000;

async function auditReasons(token, agentId) {
  const reasons = new Set();
  let cursor = null;
  for (let page = 0; page < 100; page++) {
    const q = `/api/v1/audit?entity_id=${agentId}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const r = await api(s.url, 'GET', q, { token });
    assert.equal(r.status, 200);
    for (const e of r.json.data) if (e.after && typeof e.after.reason === 'string') reasons.add(e.after.reason);
    cursor = r.json.next_cursor;
    if (!cursor) break;
  }
  return reasons;
}

test('every acknowledged PATCH is there after SIGKILL; failed ones left nothing', async () => {
  s = await startServer({ workers: 1 });
  const admin = (await login(s.url, 'admin@acme.test')).access_token;
  const list = await api(s.url, 'GET', '/api/v1/agents', { token: admin });
  assert.equal(list.status, 200);
  const agents = list.json.data.map((a) => a.id);
  assert.ok(agents.length >= 2);

  const acked = new Map(agents.map((id) => [id, { version: 0, reasons: [] }]));
  const failed = [];
  let acks = 0;
  let seq = 0;
  let killed = false;
  const unexpected = [];
  const deadline = Date.now() + LOAD_DEADLINE_MS;

  async function client(c) {
    while (!killed && Date.now() < deadline) {
      const n = seq++;
      const id = agents[n % agents.length];
      let body;
      let want;
      if (n % 7 === 3) {
        body = { status: 'nope', reason: `bad-${n}` };
        want = 422;
      } else if (n % 7 === 5) {
        body = { status: 'busy', reason: `stale-${n}`, expected_version: 1 };
        want = 409;
      } else {
        body = { status: n % 2 ? 'busy' : 'online', reason: `ok-${c}-${n}` };
        want = 200;
      }
      let r;
      try {
        r = await api(s.url, 'PATCH', `/api/v1/agents/${id}`, { token: admin, body });
      } catch {
        return; // the server is gone
      }
      if (r.status !== want) {
        unexpected.push(`${body.reason}: ${r.status} ${r.text.slice(0, 200)}`);
        continue;
      }
      if (want === 200) {
        const a = acked.get(id);
        a.version = Math.max(a.version, r.json.version);
        a.reasons.push(body.reason);
        if (++acks >= KILL_AFTER_ACKS && !killed) {
          killed = true;
          s.proc.kill('SIGKILL'); // requests of the other clients are still in flight
        }
      } else {
        failed.push(body.reason);
      }
    }
  }
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  assert.deepEqual(unexpected, []);
  assert.ok(killed, `${acks} PATCHes acknowledged before the deadline`);
  const { signal } = await s.stop();
  assert.equal(signal, 'SIGKILL');

  await s.start(s.port);
  const root = (await login(s.url, 'root@demo.test')).access_token;
  const failedSet = new Set(failed);
  for (const id of agents) {
    const a = acked.get(id);
    const row = await api(s.url, 'GET', `/api/v1/agents/${id}`, { token: admin });
    assert.equal(row.status, 200);
    assert.ok(row.json.version >= a.version, `agent ${id}: version ${row.json.version} < acknowledged ${a.version}`);
    const reasons = await auditReasons(root, id);
    const missing = a.reasons.filter((r) => !reasons.has(r));
    assert.deepEqual(missing, [], `agent ${id}: acknowledged PATCHes missing after the crash`);
    assert.deepEqual([...reasons].filter((r) => failedSet.has(r)), [], 'a failed PATCH left an audit entry');
  }
  assert.ok(failed.length > 0, 'failing requests ran in the mix');
  const v = await api(s.url, 'GET', '/api/v1/audit/verify', { token: root });
  assert.equal(v.status, 200);
  assert.equal(v.json.ok, true);
  assert.equal(v.json.first_bad_seq, null);
});
