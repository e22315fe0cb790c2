// The signing secret and the password hashes at rest: the SQLite file and its WAL are private
// to the server's user (0600, and a file others can read is refused), the secret can come
// from a file, and a key rotation keeps tokens signed with the previous secret valid while
// it is configured.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, api, login, startServer } from './lib/server.mjs';

const mode = (p) => statSync(p).mode & 0o777;

// Run the binary to completion (it must exit by itself, bounded) and return {status, stderr}.
function runBin(args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('the database file and its WAL are created 0600, and a readable one is refused', async () => {
  const srv = await startServer();
  try {
    const tok = (await login(srv.url, 'admin@acme.test')).access_token;
    assert.equal((await api(srv.url, 'GET', '/api/v1/me', { token: tok })).status, 200);
    assert.equal(mode(srv.dbPath), 0o600);
    assert.ok(existsSync(`${srv.dbPath}-wal`), 'WAL mode keeps a -wal file');
    assert.equal(mode(`${srv.dbPath}-wal`), 0o600);
    await srv.stop();

    chmodSync(srv.dbPath, 0o644);
    const r = runBin(['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${srv.dbPath}`, '--log-format', 'text']);
    assert.equal(r.status, 1, r.out);
    assert.match(r.out, /accessible to group or others/);
    assert.match(r.out, /chmod 600/);

    // Fixing the mode as told brings it back, with its data.
    chmodSync(srv.dbPath, 0o600);
    await srv.start();
    assert.equal((await api(srv.url, 'GET', '/livez')).status, 200);
    await login(srv.url, 'admin@acme.test');
  } finally {
    await srv.cleanup();
  }
});

test('jwt_secret_file, and a rotation that accepts the previous secret only while configured', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbsecret-'));
  const oldFile = join(dir, 'old.key');
  const newFile = join(dir, 'new.key');
  writeFileSync(oldFile, 'old-secret-0123456789-0123456789-0123456789\n', { mode: 0o600 });
  writeFileSync(newFile, 'new-secret-9876543210-9876543210-9876543210\n', { mode: 0o600 });
  const args = ['--jwt-secret-file', oldFile];
  const srv = await startServer({ args });
  try {
    const oldTok = (await login(srv.url, 'admin@acme.test')).access_token;
    assert.equal((await api(srv.url, 'GET', '/api/v1/me', { token: oldTok })).status, 200);

    // Rotate: the new secret signs, the old one still verifies.
    args.splice(0, args.length, '--jwt-secret-file', newFile, '--jwt-secret-previous-file', oldFile);
    await srv.restart();
    assert.equal((await api(srv.url, 'GET', '/api/v1/me', { token: oldTok })).status, 200);
    const newTok = (await login(srv.url, 'admin@acme.test')).access_token;
    assert.equal((await api(srv.url, 'GET', '/api/v1/me', { token: newTok })).status, 200);
    assert.notEqual(newTok.split('.')[2], oldTok.split('.')[2]);

    // End of the window: the previous secret is gone, its tokens are refused.
    args.splice(0, args.length, '--jwt-secret-file', newFile);
    await srv.restart();
    assert.equal((await api(srv.url, 'GET', '/api/v1/me', { token: oldTok })).status, 401);
    assert.equal((await api(srv.url, 'GET', '/api/v1/me', { token: newTok })).status, 200);
  } finally {
    await srv.cleanup();
  }

  // Bad configurations stop with exit status 2 and a message naming the key.
  const db = `sqlite:${join(dir, 'x.db')}`;
  let r = runBin(['serve', '--db', db, '--jwt-secret', 'x'.repeat(40), '--jwt-secret-file', newFile]);
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /jwt_secret or jwt_secret_file, not both/);
  r = runBin(['serve', '--db', db, '--jwt-secret-file', join(dir, 'missing.key')]);
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /cannot read jwt_secret_file/);
  writeFileSync(join(dir, 'short.key'), 'too-short\n', { mode: 0o600 });
  r = runBin(['serve', '--db', db, '--listen', '127.0.0.1:0', '--jwt-secret-file', join(dir, 'short.key')]);
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /jwt_secret must be at least 32 bytes/);
  rmSync(dir, { recursive: true, force: true });
});
