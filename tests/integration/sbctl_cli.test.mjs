// sbctl end to end against the real server: login/logout (token file mode 0600), every
// command group, --json, human tables, exit codes, --help for every command.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api, login } from './lib/server.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const SBCTL = join(BUILD, 'sbctl');
let srv, home;

const env0 = (env) => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
function run(args, env = {}) {
  const r = spawnSync(SBCTL, args, { env: env0({ ...process.env, HOME: home, XDG_CONFIG_HOME: '', SWITCHBOARD_TOKEN: '', ...env }), encoding: 'utf8', timeout: 30000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
async function has(path, token) {
  const r = await api(srv.url, 'GET', path, { token });
  return !(r.status === 404 && /no such endpoint/.test(r.text));
}

before(async () => {
  srv = await startServer();
  home = mkdtempSync(join(tmpdir(), 'sbctl-home-'));
});
after(async () => { await srv?.cleanup(); rmSync(home, { recursive: true, force: true }); });

test('help for every command, usage errors exit 2', () => {
  for (const args of [['--help'], ['login', '--help'], ['logout', '--help'], ['watch', '--help'],
    ['agents', '--help'], ['agents', 'set', '--help'], ['messages', 'create', '--help'],
    ['clients', '--help'], ['users', '--help'], ['audit', 'verify', '--help'], ['me', '--help']]) {
    const r = run(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.out, /usage/);
  }
  assert.equal(run([]).code, 2);
  assert.equal(run(['frobnicate']).code, 2);
  assert.equal(run(['agents', 'fly']).code, 2);
  assert.equal(run(['clients', 'get']).code, 2);
  assert.equal(run(['--url', 'localhost:1', 'me'], { SWITCHBOARD_TOKEN: 'x' }).code, 2);
  assert.match(run(['--version']).out, /sbctl 0\.1\.0/);
});

test('login: bad credentials, unreachable server, then success with a 0600 token file', () => {
  let r = run(['--url', srv.url, 'login', '--email', 'admin@acme.test', '--password', 'wrong']);
  assert.equal(r.code, 3);
  assert.match(r.err, /invalid email or password/);
  r = run(['--url', 'http://127.0.0.1:1', 'login', '--email', 'a@b.c', '--password', 'x']);
  assert.equal(r.code, 6);
  assert.match(r.err, /cannot connect to 127\.0\.0\.1:1/);
  assert.equal(run(['me']).code, 3); // not logged in
  r = run(['--url', srv.url, 'login', '--email', 'admin@acme.test'], { SWITCHBOARD_PASSWORD: 'demo-password' });
  assert.equal(r.code, 0, r.err);
  const f = join(home, '.config/switchboard/credentials.json');
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, '.config/switchboard')).mode & 0o777, 0o700);
  r = run(['me', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).user.email, 'admin@acme.test');
});

test('clients and users: list, get, create, update with conflicts, delete', async () => {
  const root = await login(srv.url, 'root@demo.test');
  let r = run(['users', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^ID\s+EMAIL\s+NAME\s+ROLE/);
  assert.match(r.out, /viewer@acme\.test/);
  assert.doesNotMatch(r.out, /globex/);
  r = run(['users', 'list', '--role', 'viewer', '--json']);
  const list = JSON.parse(r.out);
  assert.ok(list.data.every((u) => u.role === 'viewer'));
  r = run(['users', 'create', '--email', 'new1@acme.test', '--name', 'New One', '--role', 'agent', '--password', 'long-enough-pw1', '--json']);
  assert.equal(r.code, 0, r.out + r.err);
  const u = JSON.parse(r.out).data ?? JSON.parse(r.out);
  r = run(['users', 'get', u.id]);
  assert.equal(r.code, 0);
  assert.match(r.out, /email: new1@acme\.test/);
  r = run(['users', 'update', u.id, '--name', 'Renamed', '--if-match', String(u.version)]);
  assert.equal(r.code, 0, r.err);
  r = run(['users', 'update', u.id, '--name', 'Again', '--if-match', String(u.version)]);
  assert.equal(r.code, 5, 'stale version is a conflict');
  assert.equal(run(['users', 'get', '00000000-0000-4000-8000-000000000000']).code, 4);
  assert.equal(run(['users', 'delete', u.id]).code, 0);
  // clients need super_admin: an admin gets 403/404, the root token works
  r = run(['clients', 'list'], { SWITCHBOARD_TOKEN: root.access_token });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /acme/);
  r = run(['clients', 'create', '--name', 'Initech', '--slug', 'initech', '--json'], { SWITCHBOARD_TOKEN: root.access_token });
  assert.equal(r.code, 0, r.err);
  const c = JSON.parse(r.out).data ?? JSON.parse(r.out);
  assert.equal(run(['clients', 'update', c.id, '--status', 'suspended'], { SWITCHBOARD_TOKEN: root.access_token }).code, 0);
  r = run(['clients', 'impact', c.id], { SWITCHBOARD_TOKEN: root.access_token });
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /users: 0/);
  r = run(['clients', 'delete', c.id], { SWITCHBOARD_TOKEN: root.access_token });
  assert.equal(r.code, 1, 'the delete needs --confirm');
  assert.match(r.err, /^ {2}confirm: required$/m);
  assert.equal(run(['clients', 'delete', c.id, '--confirm', 'initech'], { SWITCHBOARD_TOKEN: root.access_token }).code, 0);
});

test('agents and messages', async (t) => {
  const tok = (await login(srv.url, 'admin@acme.test')).access_token;
  assert.ok(await has('/api/v1/agents', tok), 'the agents API exists');
  let r = run(['agents', 'list', '--json']);
  assert.equal(r.code, 0, r.err);
  const agents = JSON.parse(r.out).data;
  assert.ok(agents.length >= 5);
  r = run(['agents', 'list']);
  assert.match(r.out, /^ID\s+DISPLAY_NAME\s+STATUS/);
  r = run(['agents', 'set', agents[0].id, 'busy', '--reason', 'on a call']);
  assert.equal(r.code, 0, r.err);
  r = run(['agents', 'bulk', 'away', agents[1].id, agents[2].id, '--reason', 'lunch']);
  assert.equal(r.code, 0, r.err);
  r = run(['agents', 'get', agents[1].id, '--json']);
  assert.equal((JSON.parse(r.out).data ?? JSON.parse(r.out)).status, 'away');
  assert.equal(run(['agents', 'history', agents[0].id]).code, 0);
  assert.equal(run(['agents', 'stats']).code, 0);
  assert.equal(run(['agents', 'set', agents[0].id, 'sleeping']).code === 0, false);
  r = run(['messages', 'create', '--title', 'Maintenance', '--body', 'tonight', '--priority', 'high', '--json']);
  assert.equal(r.code, 0, r.err);
  const m = JSON.parse(r.out).data ?? JSON.parse(r.out);
  assert.match(run(['messages', 'list']).out, /Maintenance/);
  assert.equal(run(['messages', 'update', m.id, '--title', 'Maint 2']).code, 0);
  assert.equal(run(['messages', 'stats']).code, 0);
  assert.equal(run(['messages', 'delete', m.id]).code, 0);
  assert.equal(run(['messages', 'get', m.id]).code, 4);
});

test('audit list and verify; logout forgets the token', () => {
  let r = run(['audit', 'list', '--limit', '5']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^SEQ\s+AT\s+ACTOR_EMAIL\s+ACTION/);
  r = run(['audit', 'verify', '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).ok, true);
  r = run(['logout']);
  assert.equal(r.code, 0, r.err);
  assert.equal(existsSync(join(home, '.config/switchboard/credentials.json')), false);
  assert.equal(run(['me']).code, 3);
});
