// Backups under load (issue 14): `switchboard backup` copies a live SQLite database while
// four writers keep creating messages through the API; `switchboard restore` brings the copy
// back into a new database, and a server started on it has an intact audit chain and
// exactly the rows committed up to one point in the commit order (a snapshot, not a mix):
// every message whose create was acknowledged before the backup started, none whose request
// was sent after it ended, and the same rows as the original up to the copy's last audit seq.
// Also: restore refuses a database that a server has open and a file that is not a backup,
// and migrate refuses a database whose schema is newer than the binary (left untouched).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, BIN, login, startServer } from './lib/server.mjs';

const dirs = [];
const servers = [];
after(async () => {
  for (const s of servers) await s.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = (name) => { const d = mkdtempSync(join(tmpdir(), `sbbackup-${name}-`)); dirs.push(d); return d; };
const sql = (db, q) => execFileSync('sqlite3', [db, q], { encoding: 'utf8' }).trim();
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
const run = (args) => {
  const r = spawnSync(BIN, args, { env: cleanEnv(), encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};
// The same, without blocking the event loop (the writers keep going meanwhile).
const runAsync = (args) => new Promise((resolve, reject) => {
  const p = spawn(BIN, args, { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const timer = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`${args[0]} took over 60 s`)); }, 60000);
  p.stdout.on('data', (d) => { stdout += d; });
  p.stderr.on('data', (d) => { stderr += d; });
  p.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
});

test('a backup taken under write load restores to a consistent snapshot with an intact audit chain', { timeout: 240000 }, async () => {
  const srv = await startServer({ args: ['--login-attempts', '1000'] });
  servers.push(srv);
  const admin = (await login(srv.url, 'admin@acme.test')).access_token;

  // Four writers; each create is recorded with the moment its request left and its ack came.
  const creates = [];
  let phase = 'before';
  let afterBackupWrites = 0;
  let stop = false;
  const deadline = Date.now() + 120000;
  const writer = async (w) => {
    for (let i = 0; i < 2000 && !stop && Date.now() < deadline; i++) {
      const sentPhase = phase;
      const r = await api(srv.url, 'POST', '/api/v1/messages', { token: admin, body: { title: `w${w}-${i}`, body: 'load', priority: 'normal' } });
      assert.equal(r.status, 201, r.text);
      creates.push({ id: r.json.id ?? r.json.data?.id, sentPhase, ackPhase: phase });
      if (phase === 'after' && ++afterBackupWrites >= 40) stop = true;
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  // Let the load build up, then back up while it runs.
  while (creates.length < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const dir = tmp('load');
  const file = join(dir, 'backup.sqlite');
  phase = 'during';
  const ackedBefore = creates.length;
  const b = await runAsync(['backup', '--db', `sqlite:${srv.dbPath}`, '--out', file]);
  phase = 'after';
  await Promise.all(writers);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stdout, /schema version \d+/);
  assert.ok(afterBackupWrites >= 40, 'the writers went on after the backup');
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup is readable by its owner only');
  assert.ok(!existsSync(`${file}.partial`));
  await srv.stop();

  // The copy is the original as of one audit seq: same messages, same audit entries.
  const snapSeq = Number(sql(file, 'SELECT max(seq) FROM audit_logs'));
  const ids = (db, q) => sql(db, q).split('\n').filter(Boolean).sort();
  const backupIds = ids(file, "SELECT id FROM system_messages WHERE title GLOB 'w*-*'");
  const originalUpTo = ids(srv.dbPath, `SELECT entity_id FROM audit_logs WHERE action = 'message.create' AND seq <= ${snapSeq} AND entity_id IN (SELECT id FROM system_messages WHERE title GLOB 'w*-*')`);
  assert.deepEqual(backupIds, originalUpTo, 'the backed-up messages are those committed up to the snapshot');
  assert.equal(sql(file, 'SELECT count(*) FROM audit_logs'), sql(srv.dbPath, `SELECT count(*) FROM audit_logs WHERE seq <= ${snapSeq}`));
  for (const t of ['clients', 'users', 'agent_status']) {
    assert.equal(sql(file, `SELECT count(*) FROM ${t}`), sql(srv.dbPath, `SELECT count(*) FROM ${t}`), t);
  }

  // Restore into a new database: the same rows as the backup; a server on it verifies the chain.
  const restored = join(dir, 'restored.db');
  const r = run(['restore', '--db', `sqlite:${restored}`, '--in', file]);
  assert.equal(r.code, 0, r.stderr);
  for (const t of ['clients', 'users', 'agent_status', 'system_messages', 'audit_logs']) {
    assert.equal(sql(restored, `SELECT count(*) FROM ${t}`), sql(file, `SELECT count(*) FROM ${t}`), `restored ${t}`);
  }
  const restoredIds = ids(restored, "SELECT id FROM system_messages WHERE title GLOB 'w*-*'");
  assert.deepEqual(restoredIds, backupIds);
  const s2 = await startServer({ dir, dbName: 'restored.db', demo: false });
  servers.push(s2);
  const v = await api(s2.url, 'GET', '/api/v1/audit/verify', { token: (await login(s2.url, 'root@demo.test')).access_token });
  assert.equal(v.status, 200, v.text);
  assert.equal(v.json.ok, true, v.text);
  assert.ok(v.json.checked >= Number(sql(file, 'SELECT count(*) FROM audit_logs')), `checked ${v.json.checked} entries`);
  await s2.stop();

  // Everything acknowledged before the backup started is in; nothing sent after it ended is.
  const inCopy = new Set(restoredIds);
  assert.ok(ackedBefore >= 60);
  for (const c of creates.slice(0, ackedBefore)) assert.ok(inCopy.has(c.id), `acked before the backup: ${c.id}`);
  for (const c of creates.filter((x) => x.sentPhase === 'after')) assert.ok(!inCopy.has(c.id), `sent after the backup: ${c.id}`);
  assert.ok(restoredIds.length >= ackedBefore && restoredIds.length < creates.length,
    `${restoredIds.length} restored of ${creates.length} (${ackedBefore} before the backup)`);
});

test('restore refuses a database in use and a file that is not a backup; backup needs SQLite', { timeout: 60000 }, async () => {
  const srv = await startServer({});
  servers.push(srv);
  const dir = tmp('refuse');
  const file = join(dir, 'b.sqlite');
  assert.equal(run(['backup', '--db', `sqlite:${srv.dbPath}`, '--out', file]).code, 0);
  const before = sql(srv.dbPath, 'SELECT count(*) FROM audit_logs');
  const busy = run(['restore', '--db', `sqlite:${srv.dbPath}`, '--in', file]);
  assert.equal(busy.code, 1, busy.stderr);
  assert.match(busy.stderr, /in use; stop the server first/);
  const r = await api(srv.url, 'GET', '/readyz');
  assert.equal(r.status, 200, 'the running server is unaffected');
  await srv.stop();
  assert.equal(sql(srv.dbPath, 'SELECT count(*) FROM audit_logs'), before);

  const junk = join(dir, 'junk.sqlite');
  writeFileSync(junk, 'not a database at all\n'.repeat(100));
  const j = run(['restore', '--db', `sqlite:${join(dir, 'x.db')}`, '--in', junk]);
  assert.equal(j.code, 1, j.stderr);
  assert.match(j.stderr, /not a switchboard backup/);
  const missing = run(['restore', '--db', `sqlite:${join(dir, 'x.db')}`, '--in', join(dir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.equal(run(['backup', '--db', `sqlite:${join(dir, 'none.db')}`, '--out', join(dir, 'o')]).code, 1);
  assert.ok(!existsSync(join(dir, 'none.db')), 'backup does not create the database it copies');
  const pg = run(['backup', '--db', 'postgres://127.0.0.1/none', '--out', join(dir, 'o')]);
  assert.equal(pg.code, 2);
  assert.match(pg.stderr, /pg_dump/);
  assert.equal(run(['backup', '--db', `sqlite:${srv.dbPath}`]).code, 2, 'backup without --out');
  // Restoring over a stopped server's database works and keeps it servable.
  const over = run(['restore', '--db', `sqlite:${srv.dbPath}`, '--in', file]);
  assert.equal(over.code, 0, over.stderr);
});

test('migrate refuses a database whose schema is newer than the binary, and leaves it alone', () => {
  const dir = tmp('newer');
  const db = join(dir, 'n.db');
  const m = run(['migrate', '--db', `sqlite:${db}`]);
  assert.equal(m.code, 0, m.stderr);
  const current = Number(m.stdout.match(/version (\d+)/)[1]);
  sql(db, `INSERT INTO schema_migrations (version, applied_at) VALUES (${current + 7}, '2030-01-01T00:00:00.000Z')`);
  const dump = sql(db, '.dump');
  for (const args of [['migrate'], ['serve', '--listen', '127.0.0.1:0']]) {
    const r = run([...args, '--db', `sqlite:${db}`]);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`schema is at version ${current + 7}, newer than this switchboard knows \\(${current}\\)`));
  }
  assert.equal(sql(db, '.dump'), dump, 'the database is unchanged');
  // A backup of it cannot be restored by this binary either.
  const file = join(dir, 'newer.sqlite');
  assert.equal(run(['backup', '--db', `sqlite:${db}`, '--out', file]).code, 1);
  assert.ok(!existsSync(file));
});
