// sbctl watch: a live stream that survives a server restart. Changes made before, during
// (directly in the database while the server is down) and after the restart each appear
// exactly once, in seq order, and connection-state changes go to stderr.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api, login } from './lib/server.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const SBCTL = join(BUILD, 'sbctl');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let srv, home, watcher;
const lines = [];
let stderr = '';

before(async () => {
  srv = await startServer({ args: ['--access-ttl', '1h', '--login-attempts', '100'] });
  home = mkdtempSync(join(tmpdir(), 'sbctl-watch-'));
});

after(async () => {
  if (watcher && watcher.exitCode === null) watcher.kill('SIGTERM');
  await srv?.cleanup();
  rmSync(home, { recursive: true, force: true });
});

function seqOf(line) {
  const e = JSON.parse(line);
  return e.seq ?? e.data?.seq;
}

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}\nstderr:\n${stderr}`);
    await sleep(50);
  }
}

test('watch survives a restart: every change once, in order', { timeout: 60000 }, async () => {
  const admin = (await login(srv.url, 'admin@acme.test')).access_token;
  const agents = (await api(srv.url, 'GET', '/api/v1/agents', { token: admin })).json.data;
  const id = agents[0].id;
  watcher = spawn(SBCTL, ['--url', srv.url, 'watch', 'agent_status', '--json'], {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: '', SWITCHBOARD_TOKEN: admin },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let buf = '';
  watcher.stdout.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
  watcher.stderr.on('data', (d) => { stderr += d.toString(); });
  await until(() => /sbctl: connected/.test(stderr), 10000, 'watch connected');
  await sleep(300);

  for (let i = 0; i < 4; i++) {
    const r = await api(srv.url, 'PATCH', `/api/v1/agents/${id}`, { token: admin, body: { status: i % 2 ? 'online' : 'busy', reason: `before ${i}` } });
    assert.equal(r.status, 200);
  }
  await until(() => lines.length >= 4, 10000, '4 events before the restart');

  // Stop the server; change rows directly in its database while it is down.
  const port = srv.port;
  await srv.stop();
  await until(() => /reconnecting/.test(stderr), 10000, 'watch reconnecting');
  for (let i = 0; i < 3; i++) {
    execFileSync('sqlite3', ['-cmd', '.timeout 5000', srv.dbPath,
      `UPDATE agent_status SET reason = 'while down ${i}', version = version + 1 WHERE id = '${id}'`]);
  }
  await srv.start(port);
  await until(() => lines.length >= 7, 20000, '3 events made while the server was down');

  for (let i = 0; i < 3; i++) {
    const r = await api(srv.url, 'PATCH', `/api/v1/agents/${id}`, { token: admin, body: { status: 'away', reason: `after ${i}` } });
    assert.equal(r.status, 200);
  }
  await until(() => lines.length >= 10, 10000, '3 events after the restart');
  await sleep(500); // nothing more may arrive

  const seqs = lines.map(seqOf);
  assert.equal(seqs.length, 10, `exactly 10 events: ${seqs}`);
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `in order, no duplicate: ${seqs}`);
  const reasons = lines.map((l) => { const e = JSON.parse(l); return (e.record ?? e.data?.record)?.reason; });
  assert.deepEqual(reasons.slice(4, 7), ['while down 0', 'while down 1', 'while down 2']);
  assert.doesNotMatch(stderr, /missed/); // resumed, no resync needed
  watcher.kill('SIGTERM');
  const code = await new Promise((r) => watcher.once('exit', (c) => r(c)));
  assert.equal(code, 0);
});
