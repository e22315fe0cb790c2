// A write whose COMMIT fails is answered with an error and leaves nothing (issue 12, the writer
// lane): the server process is forbidden to grow files (prlimit --fsize, what a full disk does
// to the WAL), agent status PATCHes and a bulk change then fail with 500 while the server keeps
// serving reads; once files may grow again the same writes succeed, and none of the failed ones
// left a row, a version or an audit entry.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startServer, api, login } from './lib/server.mjs';

let s;
after(async () => { await s?.cleanup(); });

function fsizeLimit(pid, soft) {
  execFileSync('prlimit', ['--pid', String(pid), `--fsize=${soft}:unlimited`]);
}

test('a failed COMMIT answers 500 and changes nothing; the server goes on', async () => {
  s = await startServer({ workers: 1 });
  const admin = (await login(s.url, 'admin@acme.test')).access_token;
  const list = await api(s.url, 'GET', '/api/v1/agents', { token: admin });
  assert.equal(list.status, 200);
  const [a, b] = list.json.data.map((x) => x.id);
  assert.ok(a && b);
  const ok = await api(s.url, 'PATCH', `/api/v1/agents/${a}`, { token: admin, body: { status: 'busy', reason: 'before' } });
  assert.equal(ok.status, 200);
  const version = ok.json.version;

  fsizeLimit(s.proc.pid, 64);
  let restored = false;
  try {
    // Concurrent writes share a batch; every one of them fails.
    const tries = await Promise.all([
      api(s.url, 'PATCH', `/api/v1/agents/${a}`, { token: admin, body: { status: 'away', reason: 'lost 1' } }),
      api(s.url, 'PATCH', `/api/v1/agents/${b}`, { token: admin, body: { status: 'away', reason: 'lost 2' } }),
      api(s.url, 'POST', '/api/v1/agents/bulk-status', { token: admin, body: { ids: [a, b], status: 'offline', reason: 'lost 3' } }),
    ]);
    for (const r of tries) {
      assert.equal(r.status, 500, JSON.stringify(r.json));
      assert.ok(r.json.error && r.json.error.code, JSON.stringify(r.json));
    }
    // Reads still work meanwhile, and see the row as it was.
    const mid = await api(s.url, 'GET', `/api/v1/agents/${a}`, { token: admin });
    assert.equal(mid.status, 200);
    assert.equal(mid.json.status, 'busy');
    assert.equal(mid.json.version, version);
    fsizeLimit(s.proc.pid, 'unlimited');
    restored = true;
  } finally {
    if (!restored) fsizeLimit(s.proc.pid, 'unlimited');
  }

  const again = await api(s.url, 'PATCH', `/api/v1/agents/${a}`, { token: admin, body: { status: 'away', reason: 'after' } });
  assert.equal(again.status, 200, JSON.stringify(again.json));
  assert.equal(again.json.version, version + 1);
  const audit = await api(s.url, 'GET', `/api/v1/audit?entity_id=${a}&limit=500`, { token: admin });
  assert.equal(audit.status, 200);
  const reasons = audit.json.data.map((e) => e.after && e.after.reason);
  assert.ok(reasons.includes('before') && reasons.includes('after'));
  assert.ok(!reasons.some((r) => typeof r === 'string' && r.startsWith('lost')), JSON.stringify(reasons));
  const verify = await api(s.url, 'GET', '/api/v1/audit/verify', { token: (await login(s.url, 'root@demo.test')).access_token });
  assert.equal(verify.status, 200);
  assert.equal(verify.json.ok, true);
  assert.equal(s.proc.exitCode, null);
});
