// Issue 14, listener ownership: a second `switchboard serve` on a port that another process
// listens on must exit 1 with a clear message instead of joining the SO_REUSEPORT group and
// taking half the connections; the first server keeps serving every request.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { api, BIN, startServer } from '../integration/lib/server.mjs';

let first;
let dir;

before(async () => {
  first = await startServer({ workers: 2 });
  dir = mkdtempSync(join(tmpdir(), 'sbadv-'));
});
after(async () => {
  await first?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// Run `switchboard serve` on port; resolve {code, stderr} when it exits (killed after 20 s).
function serveOnce(port) {
  return new Promise((resolve) => {
    const p = spawn(BIN, ['serve', '--listen', `127.0.0.1:${port}`, '--db', `sqlite:${join(dir, 'second.db')}`,
      '--workers', '2', '--log-format', 'text'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    p.stderr.on('data', (d) => { stderr += d; });
    p.stdout.on('data', (d) => { stdout += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 20000);
    p.once('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr, stdout }); });
  });
}

test('a second server on a port in use exits 1 with a clear message', { timeout: 60000 }, async () => {
  const r = await serveOnce(first.port);
  assert.equal(r.signal, null, `the second server had to be killed: ${r.stdout}${r.stderr}`);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${first.port}: address already in use`));
  assert.doesNotMatch(r.stdout, /listening on/);
  // Every request reaches the first server (its demo data: the second had none).
  for (let i = 0; i < 20; i++) {
    const res = await api(first.url, 'POST', '/api/v1/auth/login', { body: { email: 'admin@acme.test', password: 'demo-password' }, headers: { connection: 'close' } });
    assert.equal(res.status, 200);
  }
});

test('a port held by a plain listener (not ours, no SO_REUSEPORT) also fails', { timeout: 60000 }, async () => {
  const other = net.createServer();
  await new Promise((res) => other.listen(0, '127.0.0.1', res));
  const { port } = other.address();
  try {
    const r = await serveOnce(port);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /address already in use/);
  } finally {
    await new Promise((res) => other.close(res));
  }
});

test('the first server restarts on its own port (connections in TIME_WAIT do not block it)', { timeout: 60000 }, async () => {
  assert.equal((await api(first.url, 'GET', '/livez', { headers: { connection: 'close' } })).status, 200);
  await first.restart();
  assert.equal((await api(first.url, 'GET', '/livez')).status, 200);
});
