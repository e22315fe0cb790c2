// Issue 3: the tamper-evident audit log. A seeded random workload of ~60 operations by
// different roles (some failing) must add exactly one audit entry per successful state change
// and one auth.login_failed per failed login, and nothing else; no entry holds a password hash
// or a token. Then the SQLite file is tampered with directly (modify, delete, swap, insert)
// and /audit/verify must point at the tampered seq.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, login, startServer } from './lib/server.mjs';
import { prng, walk } from './lib/matrix.mjs';

let srv;
const tok = {};
const secretsSeen = []; // tokens and passwords that must never appear in the audit log
const dirs = [];

before(async () => {
  srv = await startServer({ args: ['--login-attempts', '1000'] });
  for (const [k, e] of [['root', 'root@demo.test'], ['admin', 'admin@acme.test'], ['gadmin', 'admin@globex.test'],
    ['agent', 'agent1@acme.test'], ['viewer', 'viewer@acme.test']]) {
    const l = await login(srv.url, e);
    tok[k] = l.access_token;
    secretsSeen.push(l.access_token, l.refresh_token);
  }
});
after(async () => {
  await srv?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const auditAll = (token = tok.root) => walk(api, srv.url, '/api/v1/audit?limit=37', token);
const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' });

let workloadFirstSeq = 0;

test('a random workload adds exactly one audit entry per successful change', async () => {
  const rnd = prng(20261125);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const clients = (await walk(api, srv.url, '/api/v1/clients?limit=50', tok.root));
  const acme = clients.find((c) => c.slug === 'acme').id;
  const globex = clients.find((c) => c.slug === 'globex').id;
  const before0 = await auditAll();
  const maxSeq = Math.max(...before0.map((e) => e.seq));
  assert.equal(before0.length, maxSeq, 'seq is gap-free from 1');
  workloadFirstSeq = maxSeq + 1;
  // pages are sorted -seq and do not overlap
  for (let i = 1; i < before0.length; i++) assert.ok(before0[i - 1].seq > before0[i].seq);

  const users = []; // {id, client}
  const myClients = []; // ids of clients created here
  const slugOf = {}; // their slugs, for DELETE ?confirm=
  const expected = {}; // action -> count
  const expect = (action) => { expected[action] = (expected[action] || 0) + 1; };
  let n = 0;
  const ops = { ok: 0, failed: 0 };
  for (let i = 0; i < 60; i++) {
    const kind = pick(['user.create', 'user.create', 'user.update', 'user.update', 'user.delete',
      'client.create', 'client.update', 'client.delete', 'login.fail', 'user.bad', 'user.stale']);
    const actor = pick(['root', 'root', 'admin', 'admin', 'gadmin', 'agent', 'viewer']);
    const t = tok[actor];
    let r;
    let action = null;
    if (kind === 'user.create') {
      const client = actor === 'gadmin' ? globex : (actor === 'root' ? pick([acme, globex, ...myClients]) : acme);
      const password = `workload-password-${i}`;
      secretsSeen.push(password);
      r = await api(srv.url, 'POST', '/api/v1/users', { token: t, body: { email: `w${i}-${n++}@work.test`, name: `w ${i}`, role: pick(['viewer', 'admin']), client_id: client, password } });
      if (r.status === 201) users.push({ id: r.json.id, client });
      action = 'user.create';
    } else if (kind === 'user.update' || kind === 'user.stale') {
      const u = users.length ? pick(users) : null;
      if (!u) continue;
      const headers = kind === 'user.stale' ? { 'if-match': '99' } : {};
      r = await api(srv.url, 'PATCH', `/api/v1/users/${u.id}`, { token: t, body: { name: `renamed ${i}` }, headers });
      action = 'user.update';
    } else if (kind === 'user.delete') {
      const u = users.length ? pick(users) : null;
      if (!u) continue;
      r = await api(srv.url, 'DELETE', `/api/v1/users/${u.id}`, { token: t });
      if (r.status === 200) users.splice(users.indexOf(u), 1);
      action = 'user.delete';
    } else if (kind === 'user.bad') {
      r = await api(srv.url, 'POST', '/api/v1/users', { token: t, body: { email: 'bad', role: 'root' } });
      assert.ok(r.status >= 400);
    } else if (kind === 'client.create') {
      r = await api(srv.url, 'POST', '/api/v1/clients', { token: t, body: { name: `wc ${i}`, slug: `wc-${i}` } });
      if (r.status === 201) { myClients.push(r.json.id); slugOf[r.json.id] = r.json.slug; }
      action = 'client.create';
    } else if (kind === 'client.update') {
      const c = pick([acme, globex, ...myClients]);
      r = await api(srv.url, 'PATCH', `/api/v1/clients/${c}`, { token: t, body: { settings: { i } } });
      action = 'client.update';
    } else if (kind === 'client.delete') {
      if (!myClients.length) continue;
      const c = pick(myClients);
      r = await api(srv.url, 'DELETE', `/api/v1/clients/${c}?confirm=${slugOf[c]}`, { token: t });
      if (r.status === 200) {
        myClients.splice(myClients.indexOf(c), 1);
        for (const u of users.filter((x) => x.client === c)) users.splice(users.indexOf(u), 1); // cascade
      }
      action = 'client.delete';
    } else if (kind === 'login.fail') {
      r = await api(srv.url, 'POST', '/api/v1/auth/login', { body: { email: pick(['nobody@work.test', 'viewer@acme.test']), password: 'not-the-password' } });
      assert.equal(r.status, 401, r.text);
      expect('auth.login_failed');
      ops.failed++;
      continue;
    }
    if (process.env.AUDIT_DEBUG) console.log(kind, actor, r.status, r.status >= 300 ? r.text.slice(0, 120) : "");
    if (r.status < 300 && action) { expect(action); ops.ok++; } else ops.failed++;
  }
  assert.ok(ops.ok >= 12 && ops.failed >= 10, `a real mix: ${JSON.stringify(ops)}`);

  const all = await auditAll();
  const added = all.filter((e) => e.seq >= workloadFirstSeq);
  assert.equal(all.length, before0.length + added.length, 'nothing older changed');
  const got = {};
  for (const e of added) got[e.action] = (got[e.action] || 0) + 1;
  assert.deepEqual(got, expected, `audit actions ${JSON.stringify(got)} vs successful operations ${JSON.stringify(expected)}`);
  // seqs are contiguous, hashes chain
  const asc = [...all].sort((a, b) => a.seq - b.seq);
  for (let i = 0; i < asc.length; i++) {
    assert.equal(asc[i].seq, i + 1);
    if (i) assert.equal(asc[i].prev_hash, asc[i - 1].hash, `chain at ${asc[i].seq}`);
  }
  // no secrets in the audit log
  const text = JSON.stringify(all);
  assert.ok(!text.includes('password_hash'), 'password_hash in audit');
  assert.ok(!text.includes('$argon2'), 'argon2 hash in audit');
  for (const s of secretsSeen) assert.ok(!text.includes(s), `secret ${s.slice(0, 12)}... in audit`);
  // the admin's view is a subset of its tenant's entries
  const mine = await auditAll(tok.admin);
  for (const e of mine) assert.equal(e.client_id, acme);
  assert.ok(mine.length < all.length);
  const v = await api(srv.url, 'GET', '/api/v1/audit/verify', { token: tok.root });
  assert.equal(v.status, 200, v.text);
  assert.deepEqual(v.json, { ok: true, checked: all.length, first_bad_seq: null });
});

// Tamper with a copy of the database and return what verify says on a server started on it.
async function verifyTampered(name, mutate) {
  const dir = mkdtempSync(join(tmpdir(), `sbtamper-${name}-`));
  dirs.push(dir);
  const db = join(dir, 'switchboard.db');
  copyFileSync(srv.dbPath, db);
  const triggers = sql(db, "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_logs'").split('\n').filter(Boolean);
  if (mutate) {
    assert.ok(triggers.includes('audit_logs_no_update') && triggers.includes('audit_logs_no_delete'), `triggers: ${triggers}`);
    // the append-only triggers really block edits
    assert.throws(() => sql(db, 'UPDATE audit_logs SET action = action WHERE seq = 1'), /append-only/);
    assert.throws(() => sql(db, 'DELETE FROM audit_logs WHERE seq = 1'), /append-only/);
    const drop = triggers.filter((t) => /no_update|no_delete/.test(t)).map((t) => `DROP TRIGGER "${t}";`).join(' ');
    sql(db, `BEGIN; ${drop} ${mutate} COMMIT;`);
  }
  const s = await startServer({ dir, demo: false });
  try {
    const r = await api(s.url, 'GET', '/api/v1/audit/verify', { token: tok.root });
    assert.equal(r.status, 200, r.text);
    return r.json;
  } finally {
    await s.stop();
  }
}

test('tampering with the SQLite file is detected at the tampered seq', async () => {
  assert.ok(workloadFirstSeq > 0, 'the workload ran');
  const total = (await api(srv.url, 'GET', '/api/v1/audit/verify', { token: tok.root })).json.checked;
  await srv.stop(); // a consistent file to copy
  assert.ok(!existsSync(`${srv.dbPath}-wal`) || true);
  sql(srv.dbPath, 'PRAGMA wal_checkpoint(TRUNCATE);');
  const K = workloadFirstSeq + 5;
  assert.ok(K + 2 < total);

  const clean = await verifyTampered('clean', null);
  assert.equal(clean.ok, true, JSON.stringify(clean));
  assert.equal(clean.first_bad_seq, null);

  const modified = await verifyTampered('modify',
    `UPDATE audit_logs SET "after" = json_set(coalesce("after", '{}'), '$.tampered', 1) WHERE seq = ${K};`);
  assert.deepEqual({ ok: modified.ok, bad: modified.first_bad_seq }, { ok: false, bad: K }, 'modified after');

  const actorChanged = await verifyTampered('actor', `UPDATE audit_logs SET actor_email = 'someone@else.test' WHERE seq = ${K + 1};`);
  assert.deepEqual({ ok: actorChanged.ok, bad: actorChanged.first_bad_seq }, { ok: false, bad: K + 1 }, 'modified actor');

  // store_audit_verify: a missing seq is reported as the seq that is missing
  const deleted = await verifyTampered('delete', `DELETE FROM audit_logs WHERE seq = ${K};`);
  assert.deepEqual({ ok: deleted.ok, bad: deleted.first_bad_seq }, { ok: false, bad: K }, 'deleted entry');

  const deletedLast = await verifyTampered('delete-last', `DELETE FROM audit_logs WHERE seq = (SELECT max(seq) FROM audit_logs);`);
  assert.deepEqual({ ok: deletedLast.ok, bad: deletedLast.first_bad_seq }, { ok: false, bad: total }, 'deleted newest entry');

  // swapping the contents of K and K+1 == swapping their seq numbers
  const swapped = await verifyTampered('swap',
    `UPDATE audit_logs SET seq = -1 WHERE seq = ${K}; UPDATE audit_logs SET seq = ${K} WHERE seq = ${K + 1}; UPDATE audit_logs SET seq = ${K + 1} WHERE seq = -1;`);
  assert.deepEqual({ ok: swapped.ok, bad: swapped.first_bad_seq }, { ok: false, bad: K }, 'swapped entries');

  // a forged entry inserted at K: later entries shift up by one
  const forged = await verifyTampered('insert',
    `UPDATE audit_logs SET seq = -(seq + 1) WHERE seq >= ${K}; UPDATE audit_logs SET seq = -seq WHERE seq < 0;
     INSERT INTO audit_logs (seq, id, at, actor_id, actor_email, client_id, action, entity_type, entity_id, "before", "after", ip, user_agent, request_id, prev_hash, hash)
       SELECT ${K}, 'f0f0f0f0-0000-4000-8000-000000000000', at, actor_id, actor_email, client_id, 'user.delete', 'user', entity_id, NULL, NULL, ip, user_agent, request_id, prev_hash, hash
       FROM audit_logs WHERE seq = ${K + 1};`);
  assert.deepEqual({ ok: forged.ok, bad: forged.first_bad_seq }, { ok: false, bad: K }, 'forged entry');
});
