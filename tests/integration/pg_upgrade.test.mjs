// PostgreSQL backups and upgrades (issue 14): the pg_dump / pg_restore procedure of the
// README's "Deploying" section gives a database a server starts on with an intact audit
// chain and the same rows, and migrate/serve refuse a database whose schema is newer than the
// binary, leaving it untouched.
// Needs SB_TEST_PG_URL (a superuser URL): cmake/pg.cmake runs this file under
// scripts/with-postgres.sh; without it the test fails: it is never silently skipped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, BIN, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
if (!PG) throw new Error('SB_TEST_PG_URL not set: run under scripts/with-postgres.sh (cmake/pg.cmake does)');
const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
const dbs = [];
const roles = [];
let dir;

function dbUrl(name) {
  const u = new URL(PG);
  u.pathname = `/${name}`;
  return u.toString();
}
function tool(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}
const psql = (url, q) => tool('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At', '-c', q]);
function createDb(name) {
  psql(PG, `CREATE DATABASE ${name}`);
  dbs.push(name);
  return dbUrl(name);
}
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
const run = (args) => {
  const r = spawnSync(BIN, args, { env: cleanEnv(), encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

before(() => { dir = mkdtempSync(join(tmpdir(), 'sbpgup-')); });
after(() => {
  for (const d of dbs) psql(PG, `DROP DATABASE IF EXISTS ${d} WITH (FORCE)`);
  for (const r of roles) psql(PG, `DROP ROLE IF EXISTS ${r}`);
  rmSync(dir, { recursive: true, force: true });
});

// The README's setup: an ordinary role owning the database (row-level security applies to it,
// FORCE ROW LEVEL SECURITY). Both documented dumps work: as a superuser (the postgres user),
// and as the owner role with --enable-row-security (it failed before migration 6: pg_dump
// empties search_path and the policy function called sb_scope() unqualified). A plain
// pg_dump as the owner is refused by PostgreSQL (row_security off under FORCE), which the
// README says. pg_restore runs as the owner role, so the restored objects belong to it.
test('pg_dump -Fc as the owner role and pg_restore into a new database: same rows, intact audit chain', { timeout: 120000 }, async () => {
  const role = `sb_dump_${suffix}`;
  const password = randomBytes(12).toString('hex');
  psql(PG, `CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD '${password}'`);
  roles.push(role);
  const name = `sb_dump_${suffix}`;
  psql(PG, `CREATE DATABASE ${name} OWNER ${role}`);
  dbs.push(name);
  const asRole = (db) => { const u = new URL(dbUrl(db)); u.username = role; u.password = password; return u.toString(); };
  const src = asRole(name);
  const s = await startServer({ db: src });
  try {
    const admin = (await login(s.url, 'admin@acme.test')).access_token;
    for (let i = 0; i < 20; i++) {
      const r = await api(s.url, 'POST', '/api/v1/messages', { token: admin, body: { title: `m${i}`, body: 'x', priority: 'low' } });
      assert.equal(r.status, 201, r.text);
    }
    // The documented procedure: a consistent dump while the server keeps running.
    const file = join(dir, 'switchboard.dump');
    tool('pg_dump', ['--format=custom', `--file=${file}`, dbUrl(name)]);
    // The owner role itself, with row security on (its scope is unset: every tenant's rows).
    const ownerFile = join(dir, 'switchboard-owner.dump');
    tool('pg_dump', ['--enable-row-security', '--format=custom', `--file=${ownerFile}`, src]);
    const plain = spawnSync('pg_dump', ['--format=custom', `--file=${join(dir, 'plain.dump')}`, src], { encoding: 'utf8', timeout: 60000 });
    assert.notEqual(plain.status, 0, 'plain pg_dump as the owner is refused under FORCE ROW LEVEL SECURITY');
    assert.match(plain.stderr, /row-level security/);
    for (const [label, dump] of [['superuser dump', file], ['owner dump', ownerFile]]) {
      const restoredName = `sb_restore_${label.startsWith('owner') ? 'o' : 's'}_${suffix}`;
      psql(PG, `CREATE DATABASE ${restoredName} OWNER ${role}`);
      dbs.push(restoredName);
      const dst = asRole(restoredName);
      tool('pg_restore', ['--no-owner', `--dbname=${dst}`, dump]);
      for (const t of ['clients', 'users', 'agent_status', 'system_messages', 'audit_logs', 'changes', 'refresh_tokens', 'schema_migrations']) {
        assert.equal(psql(dbUrl(restoredName), `SELECT count(*) FROM ${t}`), psql(dbUrl(name), `SELECT count(*) FROM ${t}`), `${label}: ${t}`);
      }
      assert.equal(psql(dbUrl(restoredName), "SELECT count(*) FROM system_messages WHERE title ~ '^m[0-9]+$'"), '20', label);
      // the restored database keeps its policies for the owner role
      assert.equal(psql(dbUrl(restoredName), "SELECT count(*) FROM pg_class WHERE relname = 'users' AND relforcerowsecurity"), '1', label);
      const s2 = await startServer({ db: dst, demo: false });
      try {
        const v = await api(s2.url, 'GET', '/api/v1/audit/verify', { token: (await login(s2.url, 'root@demo.test')).access_token });
        assert.equal(v.status, 200, `${label}: ${v.text}`);
        assert.equal(v.json.ok, true, `${label}: ${v.text}`);
        // tenant isolation still holds on the restored database
        const acme = await api(s2.url, 'GET', '/api/v1/users', { token: (await login(s2.url, 'admin@acme.test')).access_token });
        assert.equal(acme.status, 200, acme.text);
        assert.ok(acme.json.data.length > 0 && acme.json.data.every((u) => u.email.endsWith('@acme.test')), `${label}: ${acme.text}`);
      } finally {
        await s2.stop();
      }
    }
  } finally {
    await s.stop();
  }
});

test('migrate and serve refuse a schema newer than the binary', { timeout: 60000 }, () => {
  const url = createDb(`sb_newer_${suffix}`);
  const m = run(['migrate', '--db', url]);
  assert.equal(m.code, 0, m.stderr);
  const current = Number(m.stdout.match(/version (\d+)/)[1]);
  psql(url, `INSERT INTO schema_migrations (version, applied_at) VALUES (${current + 3}, 'later')`);
  const before = psql(url, 'SELECT version FROM schema_migrations ORDER BY version');
  for (const args of [['migrate'], ['serve', '--listen', '127.0.0.1:0']]) {
    const r = run([...args, '--db', url]);
    assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`schema is at version ${current + 3}, newer than this switchboard knows \\(${current}\\)`));
  }
  assert.equal(psql(url, 'SELECT version FROM schema_migrations ORDER BY version'), before);
});
