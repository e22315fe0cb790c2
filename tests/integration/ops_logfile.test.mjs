// --log-file and SIGHUP (issue 14), the way logrotate uses them: the server appends JSON lines
// to the file; after the file is renamed, SIGHUP makes it open the path again, so later lines
// (a request, the shutdown) go to the new file and none to the renamed one. Every line of both
// files follows the documented schema (ts, level, msg first). A log file that cannot be
// opened is a configuration error (exit 2) naming it.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, BIN, startServer } from './lib/server.mjs';

const dir = mkdtempSync(join(tmpdir(), 'sblogfile-'));
let srv;
after(async () => { await srv?.cleanup(); rmSync(dir, { recursive: true, force: true }); });

const lines = (f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
async function waitFor(pred, what) {
  for (let i = 0; i < 200; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('SIGHUP reopens --log-file after a rotation; lines keep the documented schema', { timeout: 60000 }, async () => {
  const log = join(dir, 'switchboard.log');
  srv = await startServer({ args: ['--log-file', log] });
  await waitFor(() => existsSync(log) && lines(log).some((l) => l.msg === 'listening'), 'the listening line');
  assert.equal(srv.logs.join(''), '', 'nothing on stderr: it is the log file now');
  renameSync(log, `${log}.1`);
  srv.proc.kill('SIGHUP');
  await waitFor(() => existsSync(log) && lines(log).some((l) => l.msg === 'log file reopened'), 'the reopened line');
  assert.equal(srv.proc.exitCode, null, 'SIGHUP does not stop the server');
  const r = await api(srv.url, 'GET', '/api/v1/me');
  assert.equal(r.status, 401);
  await waitFor(() => lines(log).some((l) => l.msg === 'request' && l.path === '/api/v1/me'), 'the request line');
  const ex = await srv.stop();
  assert.equal(ex.code, 0);

  const old = lines(`${log}.1`);
  const cur = lines(log);
  assert.ok(old.some((l) => l.msg === 'listening' && l.url === srv.url && typeof l.workers === 'number'));
  assert.ok(!old.some((l) => ['log file reopened', 'request', 'shutting down'].includes(l.msg)), 'nothing after the rotation in the old file');
  assert.deepEqual(cur.find((l) => l.msg === 'log file reopened').path, log);
  const req = cur.find((l) => l.msg === 'request');
  for (const k of ['request_id', 'method', 'path', 'ip']) assert.equal(typeof req[k], 'string', k);
  assert.equal(req.status, 401);
  assert.equal(typeof req.duration_us, 'number');
  assert.ok(cur.some((l) => l.msg === 'shutting down' && l.signal));
  assert.equal(cur.at(-1).msg, 'stopped');
  for (const l of [...old, ...cur]) {
    assert.deepEqual(Object.keys(l).slice(0, 3), ['ts', 'level', 'msg']);
    assert.match(l.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level));
  }
});

test('a log file that cannot be opened exits 2 naming it', () => {
  const bad = join(dir, 'no-such-dir', 'x.log');
  const r = spawnSync(BIN, ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'b.db')}`, '--log-file', bad],
    { encoding: 'utf8', timeout: 20000 });
  assert.equal(r.status, 2, r.stderr);
  assert.ok(r.stderr.includes(bad), r.stderr);
  assert.ok(!existsSync(join(dir, 'b.db')), 'nothing was opened');
});
