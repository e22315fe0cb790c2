// Row-level security (DESIGN §2: "With PostgreSQL, row-level security policies are a second
// line of defence"). switchboard runs as an ordinary role (no superuser, no BYPASSRLS) that owns
// a fresh database, so the policies of PostgreSQL migration 2 apply to it (FORCE ROW LEVEL
// SECURITY makes them apply to the owner). The test proves:
//   - the whole API still works for a tenant admin and for the super admin (lists, writes,
//     refresh tokens, the audit chain) with the policies in force;
//   - the server's scoped statements really run under switchboard.scope (probes: a restrictive
//     policy that hides one Acme row only from Acme-scoped statements, a trigger that records
//     the scope of an UPDATE);
//   - in psql as that role, switchboard.scope = <Acme id> shows only Acme's rows, an UPDATE or
//     DELETE of a Globex row changes nothing, and an INSERT for another tenant is refused.
//
// Needs SB_TEST_PG_URL (a superuser URL): cmake/pg.cmake runs this file under
// scripts/with-postgres.sh; without it the test fails: it is never silently skipped.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const PG = process.env.SB_TEST_PG_URL;
if (!PG) throw new Error('SB_TEST_PG_URL not set: run under scripts/with-postgres.sh (cmake/pg.cmake does)');

const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
const ROLE = `sb_rls_${suffix}`;
const DB = `sb_rls_${suffix}`;
const PASSWORD = randomBytes(12).toString('hex');

let appUrl; // the ordinary role, on its own database
let suUrl; // the superuser, on the same database
let server;
let acme;
let globex;

// A database URL like base with another user (null: keep) and database.
function withDb(base, user, password, db) {
  const u = new URL(base);
  if (user) {
    u.username = user;
    u.password = password;
  }
  u.pathname = `/${db}`;
  return u.toString();
}

// Run statements in one psql session (each -c is its own transaction unless a BEGIN keeps one
// open); returns {ok, out: [one line per result row], err}. ON_ERROR_STOP: the first failing
// statement ends the session. -q: no command tags, only rows.
function psqlRun(url, ...stmts) {
  const args = [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-At'];
  for (const s of stmts) args.push('-c', s);
  const r = spawnSync('psql', args, { encoding: 'utf8', timeout: 20000 });
  const text = (r.stdout || '').replace(/\n$/, '');
  return { ok: r.status === 0, out: text === '' ? [] : text.split('\n'), err: r.stderr };
}

function psql(url, ...stmts) {
  const r = psqlRun(url, ...stmts);
  assert.ok(r.ok, `psql failed: ${r.err}\n${stmts.join('\n')}`);
  return r.out;
}

// As the app role with switchboard.scope set for the whole session (is_local = false), like a
// tenant-scoped transaction of the server. Returns the output of the statements after the set.
function scoped(scope, ...stmts) {
  return psql(appUrl, `SELECT set_config('switchboard.scope', ${lit(scope)}, false)`, ...stmts).slice(1);
}

const lit = (s) => `'${String(s).replaceAll("'", "''")}'`;
const rows = (r) => r.json?.data ?? [];
const one = (r) => (r.json?.data && r.json.data.id ? r.json.data : r.json);

before(async () => {
  psql(PG, `CREATE ROLE ${ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD '${PASSWORD}'`,
    `CREATE DATABASE ${DB} OWNER ${ROLE}`);
  appUrl = withDb(PG, ROLE, PASSWORD, DB);
  suUrl = withDb(PG, null, null, DB);
  // The server migrates (as the owner) and seeds the demo data.
  server = await startServer({ db: appUrl, demo: true });
  [acme, globex] = psql(appUrl, "SELECT id FROM clients WHERE slug IN ('acme', 'globex') ORDER BY slug");
  assert.match(acme, /^[0-9a-f-]{36}$/);
  assert.match(globex, /^[0-9a-f-]{36}$/);
});

after(async () => {
  await server?.cleanup();
  psqlRun(PG, `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, `DROP ROLE IF EXISTS ${ROLE}`);
});

test('switchboard runs as an ordinary role that owns tables with forced row-level security', () => {
  assert.deepEqual(psql(appUrl, 'SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user'), ['f|f']);
  const tables = psql(appUrl,
    "SELECT relname || ':' || relrowsecurity::int || relforcerowsecurity::int || ':' || pg_get_userbyid(relowner) " +
    "FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relrowsecurity ORDER BY relname");
  const want = ['agent_status', 'agent_status_history', 'audit_logs', 'changes', 'clients', 'refresh_tokens',
    'system_messages', 'user_preferences', 'users'];
  assert.deepEqual(tables, want.map((t) => `${t}:11:${ROLE}`));
});

test('the API works under the policies: tenant admin and super admin', { timeout: 30000 }, async () => {
  const admin = await login(server.url, 'admin@acme.test');
  const root = await login(server.url, 'root@demo.test');
  const gadmin = await login(server.url, 'admin@globex.test');
  const get = (tok, path) => api(server.url, 'GET', path, { token: tok.access_token });

  // Acme admin: Acme's users, agents and messages (own + global), nothing of Globex.
  let r = await get(admin, '/api/v1/users?limit=500');
  assert.equal(r.status, 200, r.text);
  assert.equal(rows(r).length, 7);
  assert.ok(rows(r).every((u) => u.client_id === acme));
  // Lists report the global change-log head, though the newest change (Globex's admin logging
  // in) is hidden from Acme's scope.
  const [head, newest] = psql(suUrl, 'SELECT seq, coalesce(client_id, \'\') FROM changes ORDER BY seq DESC LIMIT 1')[0].split('|');
  assert.notEqual(newest, acme);
  assert.equal(r.json.seq, Number(head));
  r = await get(admin, '/api/v1/agents');
  assert.equal(r.status, 200, r.text);
  assert.equal(rows(r).length, 5);
  assert.ok(rows(r).every((a) => a.client_id === acme));
  r = await get(admin, '/api/v1/messages');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(rows(r).map((m) => m.client_id ?? null).sort(), [acme, null].sort());
  // Another tenant's row is a 404, as without the policies.
  const gUser = psql(suUrl, "SELECT id FROM users WHERE email = 'agent1@globex.test'")[0];
  assert.equal((await get(admin, `/api/v1/users/${gUser}`)).status, 404);

  // Super admin: every tenant.
  r = await get(root, '/api/v1/users?limit=500');
  assert.equal(r.status, 200, r.text);
  assert.equal(rows(r).length, 12);
  r = await get(root, '/api/v1/agents');
  assert.equal(rows(r).length, 8);
  r = await get(root, '/api/v1/messages');
  assert.equal(rows(r).length, 3);
  r = await get(root, '/api/v1/clients');
  assert.equal(rows(r).length, 2);

  // Writes by the tenant admin: a user, an agent's status, a message; the audit chain holds.
  const viewer = psql(suUrl, "SELECT id FROM users WHERE email = 'viewer@acme.test'")[0];
  r = await api(server.url, 'PATCH', `/api/v1/users/${viewer}`, { token: admin.access_token, body: { name: 'Vera' } });
  assert.equal(r.status, 200, r.text);
  assert.equal(one(r).name, 'Vera');
  const agent = rows(await get(admin, '/api/v1/agents'))[0];
  r = await api(server.url, 'PATCH', `/api/v1/agents/${agent.id}`, {
    token: admin.access_token, body: { status: 'busy', reason: 'rls' },
  });
  assert.equal(r.status, 200, r.text);
  r = await api(server.url, 'POST', '/api/v1/messages', {
    token: admin.access_token, body: { title: 'RLS', body: 'scoped insert', priority: 'high' },
  });
  assert.equal(r.status, 201, r.text);
  assert.equal(one(r).client_id, acme);
  r = await api(server.url, 'POST', '/api/v1/users', {
    token: admin.access_token,
    body: { email: `new-${suffix}@acme.test`, name: 'New', role: 'agent', password: 'a-long-password-1' },
  });
  assert.equal(r.status, 201, r.text);
  // Globex's admin still cannot touch Acme's agent; the super admin can.
  r = await api(server.url, 'PATCH', `/api/v1/agents/${agent.id}`, { token: gadmin.access_token, body: { status: 'away' } });
  assert.equal(r.status, 404, r.text);
  r = await api(server.url, 'PATCH', `/api/v1/agents/${agent.id}`, { token: root.access_token, body: { status: 'online' } });
  assert.equal(r.status, 200, r.text);

  // Refresh tokens (their policy follows the token's user) rotate as before.
  r = await api(server.url, 'POST', '/api/v1/auth/refresh', { body: { refresh_token: admin.refresh_token } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await get(r.json, '/api/v1/me')).status, 200);

  // Preferences (their policy follows their user) for a tenant admin, another tenant's admin
  // and the super admin (no tenant): each saves and reads back its own.
  const prefs = [[admin, { sound: true }], [gadmin, { status: false }], [root, { message: false }]];
  for (const [tok, p] of prefs) {
    r = await api(server.url, 'PUT', '/api/v1/me/preferences', { token: tok.access_token, body: p });
    assert.equal(r.status, 200, r.text);
  }
  for (const [tok, p] of prefs) {
    r = await get(tok, '/api/v1/me/preferences');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { message: true, status: true, connection: true, sound: false, ...p });
  }

  r = await get(admin, '/api/v1/audit?limit=500');
  assert.equal(r.status, 200, r.text);
  assert.ok(rows(r).length > 0 && rows(r).every((e) => e.client_id === acme), r.text);
  r = await get(root, '/api/v1/audit/verify');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ok, true, r.text);
  assert.equal(r.json.first_bad_seq, null);
});

test("the server's scoped statements run under switchboard.scope", { timeout: 30000 }, async () => {
  const admin = await login(server.url, 'admin@acme.test');
  const root = await login(server.url, 'root@demo.test');
  const viewer = psql(suUrl, "SELECT id FROM users WHERE email = 'viewer@acme.test'")[0];
  // Probes, added by the owner: a restrictive policy that hides viewer@acme.test from statements
  // scoped to Acme only, and a trigger that records the scope an UPDATE of users ran under.
  psql(appUrl,
    `CREATE POLICY rls_probe ON users AS RESTRICTIVE USING (sb_scope() <> ${lit(acme)} OR id <> ${lit(viewer)})`,
    'CREATE TABLE rls_probe_log (n serial, scope text, email text)',
    'CREATE FUNCTION rls_probe() RETURNS trigger LANGUAGE plpgsql AS ' +
      '$$ BEGIN INSERT INTO rls_probe_log (scope, email) VALUES (sb_scope(), NEW.email); RETURN NULL; END $$',
    'CREATE TRIGGER rls_probe AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION rls_probe()');
  try {
    const acmeIds = psql(suUrl, `SELECT id FROM users WHERE client_id = ${lit(acme)} ORDER BY id`);
    let r = await api(server.url, 'GET', '/api/v1/users?limit=500', { token: admin.access_token });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(rows(r).map((u) => u.id).sort(), acmeIds.filter((id) => id !== viewer).sort(),
      'the Acme-scoped list ran under scope = Acme: the probe hid the viewer, and only the viewer');
    assert.equal((await api(server.url, 'GET', `/api/v1/users/${viewer}`, { token: admin.access_token })).status, 404);
    r = await api(server.url, 'GET', '/api/v1/users?limit=500', { token: root.access_token });
    assert.ok(rows(r).some((u) => u.id === viewer), 'super admin list ran unrestricted');

    const agent1 = psql(suUrl, "SELECT id FROM users WHERE email = 'agent1@acme.test'")[0];
    r = await api(server.url, 'PATCH', `/api/v1/users/${agent1}`, { token: admin.access_token, body: { name: 'Scoped' } });
    assert.equal(r.status, 200, r.text);
    r = await api(server.url, 'PATCH', `/api/v1/users/${agent1}`, { token: root.access_token, body: { name: 'Open' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(psql(appUrl, "SELECT scope || '|' || email FROM rls_probe_log WHERE email LIKE 'agent1@%' ORDER BY n"),
      [`${acme}|agent1@acme.test`, '|agent1@acme.test']);
  } finally {
    psql(appUrl, 'DROP POLICY rls_probe ON users', 'DROP TRIGGER rls_probe ON users', 'DROP FUNCTION rls_probe()',
      'DROP TABLE rls_probe_log');
  }
  const r = await api(server.url, 'GET', `/api/v1/users/${viewer}`, { token: admin.access_token });
  assert.equal(r.status, 200, r.text);
});

test('psql as the role: an Acme scope reads only Acme rows', () => {
  const acmeUsers = Number(psql(suUrl, `SELECT count(*) FROM users WHERE client_id = ${lit(acme)}`)[0]);
  assert.ok(acmeUsers >= 7);
  assert.deepEqual(scoped(acme, 'SELECT DISTINCT client_id FROM users'), [acme]);
  assert.deepEqual(scoped(acme, 'SELECT count(*) FROM users'), [String(acmeUsers)]);
  assert.deepEqual(scoped(acme, 'SELECT id FROM clients'), [acme]);
  assert.deepEqual(scoped(acme, 'SELECT DISTINCT client_id FROM agent_status'), [acme]);
  assert.deepEqual(scoped(acme, 'SELECT DISTINCT client_id FROM agent_status_history'), [acme]);
  assert.deepEqual(scoped(acme, "SELECT DISTINCT coalesce(client_id, 'global') FROM system_messages ORDER BY 1"),
    [acme, 'global'].sort());
  assert.deepEqual(scoped(acme, 'SELECT DISTINCT client_id FROM audit_logs'), [acme]);
  assert.deepEqual(scoped(acme,
    "SELECT DISTINCT coalesce(client_id, 'global:' || table_name) FROM changes ORDER BY 1"),
  [acme, 'global:system_messages'].sort());
  // Refresh tokens follow their user's tenant.
  const tokenTenants = scoped(acme, 'SELECT DISTINCT u.client_id FROM refresh_tokens t JOIN users u ON u.id = t.user_id');
  assert.deepEqual(tokenTenants, [acme]);
  assert.equal(Number(scoped(acme, 'SELECT count(*) FROM refresh_tokens')[0]),
    Number(psql(suUrl, `SELECT count(*) FROM refresh_tokens t JOIN users u ON u.id = t.user_id WHERE u.client_id = ${lit(acme)}`)[0]));
  // So do preferences (saved by the API test above for both tenants and the super admin).
  assert.deepEqual(scoped(acme, "SELECT DISTINCT coalesce(u.client_id, 'none') FROM user_preferences p JOIN users u ON u.id = p.user_id"), [acme]);
  assert.equal(Number(psql(suUrl, 'SELECT count(*) FROM user_preferences')[0]), 3);
  assert.deepEqual(scoped(acme, 'SELECT count(*) FROM user_preferences'), ['1']);
  // The global head and the end of the audit chain stay visible through their functions.
  assert.deepEqual(scoped(acme, 'SELECT sb_changes_head()'), psql(suUrl, 'SELECT max(seq) FROM changes'));
  assert.deepEqual(scoped(acme, 'SELECT last_seq FROM sb_audit_last()'), psql(suUrl, 'SELECT max(seq) FROM audit_logs'));
  assert.deepEqual(scoped(acme, 'SELECT sb_changes_head()', 'SELECT sb_scope()').slice(1), [acme], 'scope restored');

  // Unrestricted: unset, '' and '*'; an unknown tenant sees nothing.
  const all = psql(suUrl, 'SELECT count(*) FROM users')[0];
  assert.deepEqual(psql(appUrl, 'SELECT count(*) FROM users'), [all]);
  assert.deepEqual(scoped('', 'SELECT count(*) FROM users'), [all]);
  assert.deepEqual(scoped('*', 'SELECT count(*) FROM users'), [all]);
  assert.deepEqual(scoped('-', 'SELECT count(*) FROM users', 'SELECT count(*) FROM clients'), ['0', '0']);
  // A superuser bypasses row security whatever the scope.
  assert.deepEqual(psql(suUrl, `SELECT set_config('switchboard.scope', ${lit(acme)}, false)`,
    'SELECT count(DISTINCT client_id) FROM users').slice(1), ['2']);
  // Without FORCE the owner would bypass it too (rolled back).
  assert.deepEqual(psql(appUrl, 'BEGIN', `SELECT set_config('switchboard.scope', ${lit(acme)}, true)`,
    'SELECT count(DISTINCT client_id) FROM users', 'ALTER TABLE users NO FORCE ROW LEVEL SECURITY',
    'SELECT count(DISTINCT client_id) FROM users', 'ROLLBACK').slice(1), ['1', '2']);
});

test('psql as the role: an Acme scope cannot change Globex rows', () => {
  const snapshot = () => psql(suUrl,
    `SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM users u WHERE client_id = ${lit(globex)}`,
    `SELECT md5(string_agg(a::text, ',' ORDER BY id)) FROM agent_status a WHERE client_id = ${lit(globex)}`,
    `SELECT md5(string_agg(m::text, ',' ORDER BY id)) FROM system_messages m WHERE client_id = ${lit(globex)} OR client_id IS NULL`,
    `SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM clients c WHERE id = ${lit(globex)}`);
  const beforeRows = snapshot();
  const globexAdmin = psql(suUrl, "SELECT id FROM users WHERE email = 'admin@globex.test'")[0];
  const count = (sql) => `WITH w AS (${sql} RETURNING 1) SELECT count(*) FROM w`;

  // UPDATE and DELETE of Globex (and global) rows reach nothing.
  assert.deepEqual(scoped(acme,
    count(`UPDATE users SET name = 'pwned' WHERE client_id = ${lit(globex)}`),
    count(`UPDATE users SET name = 'pwned' WHERE email = 'admin@globex.test'`),
    count(`DELETE FROM agent_status WHERE client_id = ${lit(globex)}`),
    count(`DELETE FROM users WHERE client_id = ${lit(globex)}`),
    count(`UPDATE clients SET name = 'pwned' WHERE id = ${lit(globex)}`),
    count(`DELETE FROM clients WHERE id = ${lit(globex)}`),
    count('UPDATE system_messages SET title = \'pwned\' WHERE client_id IS NULL'),
    count('DELETE FROM system_messages WHERE client_id IS NULL'),
    count(`DELETE FROM refresh_tokens WHERE user_id IN (SELECT id FROM users WHERE client_id = ${lit(globex)})`)),
  ['0', '0', '0', '0', '0', '0', '0', '0', '0']);
  assert.deepEqual(snapshot(), beforeRows, 'Globex rows unchanged');
  const prefsOf = (email) => psql(suUrl, `SELECT prefs::text FROM user_preferences p JOIN users u ON u.id = p.user_id WHERE u.email = ${lit(email)}`);
  const gPrefs = prefsOf('admin@globex.test');
  const rPrefs = prefsOf('root@demo.test');
  assert.equal(gPrefs.length, 1);
  assert.deepEqual(scoped(acme,
    count(`UPDATE user_preferences SET prefs = '{"sound": true}' WHERE user_id = ${lit(globexAdmin)}`),
    count('UPDATE user_preferences SET prefs = \'{}\' WHERE user_id IN (SELECT id FROM users WHERE client_id IS NULL)'),
    count(`DELETE FROM user_preferences WHERE user_id <> ''`)),
  ['0', '0', '1']); // only Acme's own row is reached
  assert.deepEqual(prefsOf('admin@globex.test'), gPrefs, 'Globex preferences unchanged');
  assert.deepEqual(prefsOf('root@demo.test'), rPrefs, 'super admin preferences unchanged');

  // INSERTs for another tenant (or global rows) are refused.
  const refused = (sql) => {
    const r = psqlRun(appUrl, `SELECT set_config('switchboard.scope', ${lit(acme)}, false)`, sql);
    assert.ok(!r.ok, `should be refused: ${sql}`);
    assert.match(r.err, /row-level security/, r.err);
  };
  refused(`INSERT INTO system_messages (id, client_id, title) VALUES (gen_random_uuid()::text, ${lit(globex)}, 'x')`);
  refused("INSERT INTO system_messages (id, client_id, title) VALUES (gen_random_uuid()::text, NULL, 'x')");
  refused(`INSERT INTO users (id, client_id, email, role) VALUES (gen_random_uuid()::text, ${lit(globex)}, 'x-${suffix}@globex.test', 'admin')`);
  refused("INSERT INTO users (id, client_id, email, role) VALUES (gen_random_uuid()::text, NULL, 'root2@demo.test', 'super_admin')");
  refused(`INSERT INTO clients (id, name, slug) VALUES (gen_random_uuid()::text, 'Evil', 'evil-${suffix}')`);
  refused(`INSERT INTO audit_logs (seq, id, at, client_id, action, entity_type, prev_hash, hash)
    VALUES (1000000, gen_random_uuid()::text, 'x', ${lit(globex)}, 'x', 'x', 'x', 'x')`);
  refused(`INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at)
    VALUES (gen_random_uuid()::text, ${lit(globexAdmin)}, 'f', 'h-${suffix}', 'x')`);
  refused(`INSERT INTO user_preferences (user_id, prefs) VALUES (${lit(globexAdmin)}, '{}')
    ON CONFLICT (user_id) DO UPDATE SET prefs = excluded.prefs`);
  // Nor can an Acme row be moved to Globex.
  refused(`UPDATE users SET client_id = ${lit(globex)} WHERE email = 'agent2@acme.test'`);
  refused(`UPDATE agent_status SET client_id = ${lit(globex)} WHERE client_id = ${lit(acme)}`);
  assert.deepEqual(snapshot(), beforeRows, 'Globex rows unchanged');

  // The same scope may still write its own tenant (and the change log records it).
  const head = Number(psql(suUrl, 'SELECT max(seq) FROM changes')[0]);
  const agents = psql(suUrl, `SELECT count(*) FROM agent_status WHERE client_id = ${lit(acme)}`)[0];
  assert.ok(Number(agents) >= 5);
  assert.deepEqual(scoped(acme,
    count(`UPDATE agent_status SET reason = 'psql', version = version + 1 WHERE client_id = ${lit(acme)}`)), [agents]);
  assert.deepEqual(psql(suUrl, `SELECT count(*), min(client_id), max(client_id) FROM changes WHERE seq > ${head}`),
    [`${agents}|${acme}|${acme}`]);
});
