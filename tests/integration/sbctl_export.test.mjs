// sbctl export TABLE --csv against the real server (through the SDK's streaming download):
// the same bytes as the API's CSV, list filters passed through, several pages, --output,
// and the errors: an unknown table (exit 2), a 422 reported with its field, a 403 (exit 3).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const SBCTL = join(BUILD, 'sbctl');
let srv, home;
const tok = {};

function run(args, token) {
  const r = spawnSync(SBCTL, ['--url', srv.url, ...args], {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: '', SWITCHBOARD_TOKEN: token },
    encoding: 'utf8',
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(async () => {
  srv = await startServer();
  home = mkdtempSync(join(tmpdir(), 'sbctl-export-'));
  for (const e of ['admin@acme.test', 'agent1@acme.test']) tok[e] = (await login(srv.url, e)).access_token;
});
after(async () => {
  await srv?.cleanup();
  rmSync(home, { recursive: true, force: true });
});

test('export users --csv prints exactly the API CSV, with filters', async () => {
  const t = tok['admin@acme.test'];
  const r = run(['export', 'users', '--csv', '--sort', 'email'], t);
  assert.equal(r.code, 0, r.err);
  const a = await api(srv.url, 'GET', '/api/v1/users?format=csv&sort=email', { token: t });
  assert.equal(r.out, a.text);
  assert.match(r.out, /^id,client_id,email,/);
  const f = run(['export', 'users', '--csv', '--role', 'agent'], t);
  assert.equal(f.code, 0, f.err);
  const lines = f.out.trim().split('\r\n');
  assert.equal(lines.length, 6); // header + agent1..agent5
  for (const l of lines.slice(1)) assert.match(l, /,agent,/);
});

test('export messages spans several pages; --output writes the file', async () => {
  const t = tok['admin@acme.test'];
  for (let i = 0; i < 450; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => api(srv.url, 'POST', '/api/v1/messages', {
      token: t, body: { title: `paged ${String(i + k).padStart(3, '0')}, "q"`, body: 'b', priority: 'low' },
    })));
  }
  const file = join(home, 'm.csv');
  const r = run(['export', 'messages', '--csv', '--priority', 'low', '--sort', 'title', '--output', file], t);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '');
  const text = readFileSync(file, 'utf8');
  const a = await api(srv.url, 'GET', '/api/v1/messages?format=csv&priority=low&sort=title', { token: t });
  assert.equal(text, a.text);
  const rows = text.trim().split('\r\n').slice(1);
  assert.equal(rows.length, 450);
  assert.ok(rows[0].includes('"paged 000, ""q"""'));
  assert.ok(rows[449].includes('"paged 449, ""q"""'));
});

test('export history ID', async () => {
  const t = tok['admin@acme.test'];
  const ag = await api(srv.url, 'GET', '/api/v1/agents?limit=1', { token: t });
  const r = run(['export', 'history', ag.json.data[0].id, '--csv'], t);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^id,agent_id,client_id,status,reason,started_at,ended_at,changed_by\r\n/);
  assert.ok(r.out.includes(ag.json.data[0].id));
});

test('export errors: unknown table, 422 with the field, 403, and no partial --output file', () => {
  const t = tok['admin@acme.test'];
  let r = run(['export', 'nosuch', '--csv'], t);
  assert.equal(r.code, 2);
  assert.match(r.err, /usage: sbctl export/);
  assert.equal(run(['export', 'history', '--csv'], t).code, 2);
  const file = join(home, 'bad.csv');
  r = run(['export', 'users', '--csv', '--sort', 'nosuch', '--output', file], t);
  assert.equal(r.code, 1);
  assert.match(r.err, /HTTP 422 validation_failed/);
  assert.match(r.err, /^ {2}sort: unknown_or_unsortable_column$/m);
  assert.equal(existsSync(file), false);
  r = run(['export', 'audit', '--csv'], tok['agent1@acme.test']);
  assert.equal(r.code, 3);
  assert.match(r.err, /HTTP 403/);
  assert.equal(r.out, '');
});

test('a 422 from any command names the field', () => {
  const r = run(['messages', 'create', '--title', '', '--body', 'x'], tok['admin@acme.test']);
  assert.equal(r.code, 1);
  assert.match(r.err, /HTTP 422/);
  assert.match(r.err, /^ {2}title: \w+$/m);
});

