// The command line and configuration of DESIGN §3 against the real binary: --help,
// --version, exit status 2 for usage and configuration errors (naming the culprit), the
// precedence flags > SWITCHBOARD_* environment > INI file > defaults (observed in the
// "listening" log line and the bound port), migrate and init.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { BIN } from './lib/server.mjs';

let dir;
before(() => { dir = mkdtempSync(join(tmpdir(), 'sbcli-')); });
after(() => { rmSync(dir, { recursive: true, force: true }); });

// The environment without any SWITCHBOARD_* variable (the server rejects unknown ones).
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SWITCHBOARD_')) env[k] = v;
  return { ...env, ...extra };
}

function run(args, { env = {}, input } = {}) {
  const r = spawnSync(BIN, args, { env: cleanEnv(env), input, encoding: 'utf8', timeout: 20000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dbn = 0;
const db = () => `sqlite:${join(dir, `db${dbn++}.sqlite`)}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// Start `switchboard serve` with args/env, wait for the "listening" log line, stop it with
// SIGTERM and return the line (parsed) and the exit code.
async function serveOnce(args, env = {}) {
  const proc = spawn(BIN, ['serve', '--log-format', 'json', ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    const line = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in 10 s:\n${err}\n${out}`)), 10000);
      const check = () => {
        const l = err.split('\n').find((x) => x.includes('"msg":"listening"'));
        if (l && out.includes('listening on')) { clearTimeout(timer); resolve(JSON.parse(l)); }
      };
      proc.stderr.on('data', (d) => { err += d; check(); });
      proc.stdout.on('data', (d) => { out += d; check(); });
      exited.then((r) => { clearTimeout(timer); reject(new Error(`exited ${JSON.stringify(r)} before listening:\n${err}`)); });
    });
    const r = await fetch(`${line.url}/livez`);
    assert.equal(r.status, 200);
    proc.kill('SIGTERM');
    const ex = await exited;
    return { line, exit: ex, stderr: err };
  } finally {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
}

describe('usage', () => {
  test('--help exits 0 and lists the flags', () => {
    const r = run(['--help']);
    assert.equal(r.code, 0);
    for (const f of ['--listen', '--db', '--workers', '--demo', '--config', '--tls-cert', '--log-level',
      '--log-format', '--header-timeout', '--idle-timeout', '--web-dir', '--cors-origins']) {
      assert.ok(r.stdout.includes(f), `--help lists ${f}`);
    }
    assert.match(r.stdout, /SWITCHBOARD_LISTEN/);
    assert.match(r.stdout, /init/);
    assert.match(r.stdout, /migrate/);
    assert.equal(run(['serve', '--help']).code, 0);
  });

  test('--version', () => {
    const r = run(['--version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^switchboard \S+\n$/);
  });

  test('unknown flag exits 2 naming it', () => {
    const r = run(['serve', '--bogus-flag', '--db', db()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--bogus-flag/);
  });

  test('unknown command exits 2', () => {
    const r = run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /frobnicate/);
  });

  test('bad values exit 2 naming the key', () => {
    for (const [args, key] of [[['--workers', 'abc'], 'workers'], [['--header-timeout', '5 parsecs'], 'header_timeout'],
      [['--max-body', '-1'], 'max_body'], [['--listen', 'nonsense'], 'listen'], [['--log-format', 'xml'], 'log_format'],
      [['--log-level', 'chatty'], 'log_level'], [['--workers'], '--workers']]) {
      const r = run(['serve', '--db', db(), ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(r.stderr.includes(key), `${args.join(' ')} names ${key}: ${r.stderr}`);
    }
  });

  test('unknown SWITCHBOARD_* variable exits 2 naming it', () => {
    const r = run(['serve', '--db', db()], { env: { SWITCHBOARD_NO_SUCH_KEY: '1' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SWITCHBOARD_NO_SUCH_KEY/);
  });

  test('bad TLS flags fail with a clear message', () => {
    // Half a key pair is a configuration error (exit 2) whether or not TLS is built in.
    const half = run(['serve', '--listen', '127.0.0.1:0', '--db', db(), '--tls-cert', join(dir, 'none.pem')]);
    assert.equal(half.code, 2, half.stderr);
    assert.match(half.stderr, /tls/i);
    // Files that do not exist: the server does not start, and says why.
    const r = run(['serve', '--listen', '127.0.0.1:0', '--db', db(), '--tls-cert', join(dir, 'none.pem'), '--tls-key', join(dir, 'none.key')]);
    assert.ok(r.code === 1 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /tls/i);
  });
});

describe('config file', () => {
  test('unknown INI key exits 2 naming the key', () => {
    const f = join(dir, 'bad.ini');
    writeFileSync(f, 'listen = 127.0.0.1:0\nfrobnication_level = 11\n');
    const r = run(['serve', '--config', f, '--db', db()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /frobnication_level/);
  });

  test('bad INI value and unreadable file exit 2', () => {
    const f = join(dir, 'badval.ini');
    writeFileSync(f, '[server]\nworkers = many\n');
    const r = run(['serve', '--config', f, '--db', db()]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /workers/);
    const m = run(['serve', '--config', join(dir, 'missing.ini'), '--db', db()]);
    assert.equal(m.code, 2);
    assert.match(m.stderr, /missing\.ini/);
  });

  test('precedence: flag > environment > INI file > default', { timeout: 40000 }, async () => {
    const f = join(dir, 'prec.ini');
    writeFileSync(f, `# test config\n[server]\nlisten = 127.0.0.1:0\ndb = ${db()}\nworkers = 3\n`);
    // default: workers = CPUs
    const d = await serveOnce(['--listen', '127.0.0.1:0', '--db', db()]);
    assert.equal(d.line.workers, availableParallelism());
    assert.equal(d.exit.code, 0);
    // the INI file beats the default (file named by flag, then by environment)
    const i = await serveOnce(['--config', f]);
    assert.equal(i.line.workers, 3);
    const ie = await serveOnce([], { SWITCHBOARD_CONFIG: f });
    assert.equal(ie.line.workers, 3);
    // the environment beats the INI file
    const port = await freePort();
    const e = await serveOnce(['--config', f], { SWITCHBOARD_WORKERS: '4', SWITCHBOARD_LISTEN: `127.0.0.1:${port}` });
    assert.equal(e.line.workers, 4);
    assert.equal(new URL(e.line.url).port, String(port), 'SWITCHBOARD_LISTEN is used');
    // a flag beats the environment
    const port2 = await freePort();
    const fl = await serveOnce(['--config', f, '--workers', '1', `--listen=127.0.0.1:${port2}`],
      { SWITCHBOARD_WORKERS: '4', SWITCHBOARD_LISTEN: `127.0.0.1:${port}` });
    assert.equal(fl.line.workers, 1);
    assert.equal(new URL(fl.line.url).port, String(port2));
    for (const r of [i, ie, e, fl]) assert.equal(r.exit.code, 0);
  });
});

describe('commands', () => {
  test('migrate prints the schema version and exits 0, twice', () => {
    const d = db();
    const a = run(['migrate', '--db', d]);
    assert.equal(a.code, 0, a.stderr);
    const m = a.stdout.match(/version (\d+)/);
    assert.ok(m, a.stdout);
    assert.ok(Number(m[1]) >= 1);
    const b = run(['migrate', '--db', d]);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout.match(/version (\d+)/)[1], m[1]);
  });

  test('migrate with a bad --db exits 2', () => {
    const r = run(['migrate', '--db', 'mysql://nope']);
    assert.equal(r.code, 2, r.stderr);
  });

  test('init creates the admin; a second run exits 1', () => {
    const d = db();
    const env = { SWITCHBOARD_ADMIN_PASSWORD: 'a-long-enough-password-1' };
    const a = run(['init', '--db', d, '--admin-email', 'a@b.test'], { env });
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /a@b\.test/);
    const b = run(['init', '--db', d, '--admin-email', 'a@b.test'], { env });
    assert.equal(b.code, 1, b.stderr);
    assert.match(b.stderr, /already exists/);
  });

  test('init: password from a file or stdin; too short or missing e-mail exits 2', () => {
    const pw = join(dir, 'pw.txt');
    writeFileSync(pw, 'another-long-password-2\n');
    const f = run(['init', '--db', db(), '--admin-email', 'f@b.test', '--admin-password-file', pw]);
    assert.equal(f.code, 0, f.stderr);
    const s = run(['init', '--db', db(), '--admin-email', 's@b.test'], { input: 'stdin-long-password-3\n' });
    assert.equal(s.code, 0, s.stderr);
    const short = run(['init', '--db', db(), '--admin-email', 'x@b.test'], { env: { SWITCHBOARD_ADMIN_PASSWORD: 'x' } });
    assert.equal(short.code, 2);
    const noemail = run(['init', '--db', db()], { env: { SWITCHBOARD_ADMIN_PASSWORD: 'a-long-enough-password-1' } });
    assert.equal(noemail.code, 2);
    assert.match(noemail.stderr, /admin-email/);
  });
});

test('man/switchboard.1 documents every setting that --help lists, with its variable and default', () => {
  const help = run(['--help']).stdout;
  const page = readFileSync(new URL('../../man/switchboard.1', import.meta.url), 'utf8').replace(/\\-/g, '-');
  const opts = [...help.matchAll(/^ {2}(--[a-z-]+) .*\n\s+\(env (\S+), default "(.*)"\)$/gm)];
  assert.ok(opts.length >= 20, `parsed ${opts.length} settings from --help`);
  for (const [, flag, env, def] of opts) {
    const entry = page.split('.TP\n').find((e) => e.startsWith(`.B ${flag}\n`) || e.startsWith(`.BI "${flag} "`));
    assert.ok(entry, `${flag} in man/switchboard.1`);
    assert.ok(entry.includes(`\\fB${env}\\fR`), `${flag}: ${env} in its entry`);
    assert.ok(def ? entry.includes(`default \\fI${def}\\fR`) : entry.includes('default empty'), `${flag}: default ${def}`);
  }
});

describe('config check', () => {
  const sample = new URL('../../packaging/switchboard.conf', import.meta.url).pathname;
  // "key = value (source)" lines into {key: {value, source}}.
  const parse = (out) => Object.fromEntries([...out.matchAll(/^([a-z_]+) = (.*) \((default|file|flag|env [A-Z_]+)\)$/gm)]
    .map(([, k, value, source]) => [k, { value, source }]));
  const settingNames = () => [...run(['--help']).stdout.matchAll(/^ {2}--([a-z-]+) /gm)].map((m) => m[1].replace(/-/g, '_'));

  test('the shipped sample config is valid and each value shows its source', () => {
    const r = run(['config', 'check', '--config', sample, '--max-body', '2MiB'], { env: { SWITCHBOARD_WORKERS: '3' } });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /configuration ok/);
    const s = parse(r.stdout);
    const names = settingNames();
    assert.ok(names.length >= 20);
    for (const n of names) assert.ok(s[n], `config check prints ${n}:\n${r.stdout}`);
    assert.equal(r.stdout.trim().split('\n').length, names.length, 'one line per setting');
    assert.deepEqual(s.db, { value: 'sqlite:/var/lib/switchboard/switchboard.db', source: 'file' });
    assert.deepEqual(s.listen, { value: '127.0.0.1:8080', source: 'file' });
    assert.deepEqual(s.workers, { value: '3', source: 'env SWITCHBOARD_WORKERS' });
    assert.deepEqual(s.max_body, { value: '2MiB', source: 'flag' });
    assert.deepEqual(s.access_ttl, { value: '15m', source: 'default' });
    assert.deepEqual(s.header_timeout, { value: '10s', source: 'default' });
    assert.deepEqual(s.max_request_line, { value: '8KiB', source: 'default' });
    assert.deepEqual(s.config, { value: sample, source: 'flag' });
  });

  test('the sample documents every setting, and its defaults are the real ones', () => {
    const text = readFileSync(sample, 'utf8');
    const defaults = parse(run(['config', 'check']).stdout);
    for (const n of settingNames().filter((k) => k !== 'config')) {
      const m = text.match(new RegExp(`^#? ?${n} =(.*)$`, 'm'));
      assert.ok(m, `packaging/switchboard.conf mentions ${n}`);
      // A commented-out key shows the default (or nothing, for an empty default).
      if (m[0].startsWith('#') && m[1].trim() && !m[1].includes('/')) {
        const check = run(['config', 'check', `--${n.replace(/_/g, '-')}=${m[1].trim()}`]);
        assert.equal(check.code, 0, `${n} = ${m[1]}: ${check.stderr}`);
        assert.equal(parse(check.stdout)[n].value, defaults[n].value, `${n}: the sample's commented value is the default`);
      }
    }
  });

  test('a bad key, a bad value or a bad listen address exits 2 naming it and prints no settings', () => {
    for (const [body, name] of [['listen = 127.0.0.1:0\nlisten_port = 80\n', 'listen_port'],
      ['max_body = lots\n', 'max_body'], ['listen = nowhere\n', 'listen'], ['log_level = chatty\n', 'log_level'],
      ['db = mysql://x\n', 'db'], ['jwt_secret = short\n', 'jwt_secret'], ['tls_cert = /x.pem\n', 'tls']]) {
      const f = join(dir, 'check-bad.ini');
      writeFileSync(f, body);
      const r = run(['config', 'check', '--config', f]);
      assert.equal(r.code, 2, `${body}: ${r.stderr}`);
      assert.ok(r.stderr.includes(name), `${body} names ${name}: ${r.stderr}`);
      assert.equal(r.stdout, '');
    }
    assert.equal(run(['config', 'check', '--bogus']).code, 2);
    assert.equal(run(['config']).code, 2);
    assert.equal(run(['config', 'show']).code, 2);
  });

  test('secrets are not printed', () => {
    const f = join(dir, 'secret.ini');
    const secret = 'a-jwt-secret-of-more-than-32-bytes-0123456789';
    writeFileSync(f, `jwt_secret = ${secret}\ndb = postgres://sb:hunter2-pass@127.0.0.1:5432/sb\n`);
    const r = run(['config', 'check', '--config', f]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(secret) && !r.stdout.includes('hunter2'), r.stdout);
    const s = parse(r.stdout);
    assert.equal(s.jwt_secret.value, `(set, ${secret.length} bytes)`);
    assert.equal(s.db.value, 'postgres://sb:***@127.0.0.1:5432/sb');
  });
});
