// The C SDK (through sbctl) over TLS against the server's own https listener: certificate
// verification on by default (a self-signed certificate is refused), trusted through
// SSL_CERT_FILE, or skipped with --insecure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from './lib/server.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const SBCTL = join(BUILD, 'sbctl');
let srv, dir, home;

function sbctl(args, env = {}) {
  const r = spawnSync(SBCTL, args, {
    env: { ...process.env, HOME: home, XDG_CONFIG_HOME: '', ...env },
    input: 'demo-password\n', encoding: 'utf8', timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sbtls-sdk-'));
  home = join(dir, 'home');
  execFileSync('mkdir', ['-p', home]);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'),
    '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  srv = await startServer({ args: ['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--login-attempts', '100'] });
});

after(async () => { await srv?.cleanup(); rmSync(dir, { recursive: true, force: true }); });

test('an untrusted certificate is refused with a clear error', () => {
  const r = sbctl(['--url', srv.url, 'login', '--email', 'admin@acme.test', '--password-file', '-']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /TLS|certificate|verif/i);
});

test('a certificate trusted through SSL_CERT_FILE is accepted', () => {
  const env = { SSL_CERT_FILE: join(dir, 'cert.pem') };
  const r = sbctl(['--url', srv.url, 'login', '--email', 'admin@acme.test', '--password-file', '-'], env);
  assert.equal(r.code, 0, r.err);
  const me = sbctl(['--url', srv.url, '--json', 'me'], env);
  assert.equal(me.code, 0, me.err);
  assert.equal(JSON.parse(me.out).user.email, 'admin@acme.test');
});

test('--insecure skips verification', () => {
  const r = sbctl(['--url', srv.url, '--insecure', '--json', 'agents', 'list']);
  assert.equal(r.code, 0, r.err);
  assert.ok(Array.isArray(JSON.parse(r.out).data));
});
