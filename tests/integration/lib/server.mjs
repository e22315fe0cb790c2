// Test harness: start the real switchboard binary on port 0 with a temporary SQLite file,
// wait until it is ready, and stop it by pid. Every node integration test uses this.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = process.env.SWITCHBOARD_BIN || new URL('../../../build/switchboard', import.meta.url).pathname;

function waitForListening(proc, timeoutMs) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d) => {
      out += d.toString();
      const m = out.match(/listening on (https?:\/\/[^\s]+)/);
      if (m) {
        clearTimeout(timer);
        proc.stdout.off('data', onData);
        resolve(m[1]);
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${out}`));
    });
  });
}

// Start a server. opts: {demo=true, args=[], env={}, dir (reuse a data dir), dbName, port,
// db (a database URL such as postgresql://..., instead of the temporary SQLite file)}
export async function startServer(opts = {}) {
  const dir = opts.dir || mkdtempSync(join(tmpdir(), 'sbtest-'));
  const dbPath = join(dir, opts.dbName || 'switchboard.db');
  const s = { dir, dbPath, proc: null, url: null, port: null, logs: [] };
  s.start = async (port = opts.port || 0) => {
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--db', opts.db || `sqlite:${dbPath}`,
      '--log-format', 'json', '--workers', String(opts.workers || 2)];
    if (opts.demo !== false) args.push('--demo');
    args.push(...(opts.args || []));
    const proc = spawn(BIN, args, {
      env: { ...process.env, ...(opts.env || {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stderr.on('data', (d) => { s.logs.push(d.toString()); if (s.logs.length > 2000) s.logs.shift(); });
    s.proc = proc;
    s.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    s.url = await waitForListening(proc, 20000);
    s.port = Number(new URL(s.url).port);
    s.wsUrl = s.url.replace(/^http/, 'ws') + '/realtime/v1';
    return s;
  };
  // Stop with SIGTERM (graceful) and wait; returns {code, signal}.
  s.stop = async (signal = 'SIGTERM') => {
    if (!s.proc || s.proc.exitCode !== null || s.proc.signalCode !== null) return s.exited;
    s.proc.kill(signal);
    let timer;
    const r = await Promise.race([s.exited, new Promise((res) => { timer = setTimeout(() => res(null), 15000); })]);
    clearTimeout(timer); // a pending timer would keep the test process alive for 15 s
    if (!r) { s.proc.kill('SIGKILL'); return s.exited; }
    return r;
  };
  // Stop and start again on the same port and database.
  s.restart = async () => { const port = s.port; await s.stop(); return s.start(port); };
  s.cleanup = async () => { await s.stop(); if (!opts.dir) rmSync(dir, { recursive: true, force: true }); };
  await s.start();
  return s;
}

export async function api(url, method, path, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(url + path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: res.status, headers: res.headers, json, text };
}

// Log in and return {access_token, refresh_token, expires_in, user}.
export async function login(url, email, password = 'demo-password') {
  const r = await api(url, 'POST', '/api/v1/auth/login', { body: { email, password } });
  if (r.status !== 200) throw new Error(`login ${email} failed: ${r.status} ${r.text}`);
  return r.json;
}
