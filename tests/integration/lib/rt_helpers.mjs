// Helpers for the realtime integration tests: a server with a known JWT secret, tokens
// minted for demo users (HS256, the server's own format), direct SQL writes through the
// sqlite3 CLI (the triggers fill `changes`, the hub's tail picks them up), and a raw
// Phoenix client over `ws` with exact message accounting.
import { execFileSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import WebSocket from 'ws';

import { startServer } from './server.mjs';

export const SECRET = 'rt-test-secret-0123456789abcdef0123456789';

export async function startRtServer(opts = {}) {
  const s = await startServer({ ...opts, env: { SWITCHBOARD_JWT_SECRET: SECRET, ...(opts.env || {}) } });
  // With a sanitizer build, a report in the server's stderr fails the suite at cleanup.
  const cleanup = s.cleanup;
  s.cleanup = async () => {
    await cleanup();
    const logs = s.logs.join('');
    const m = logs.match(/(AddressSanitizer|LeakSanitizer|runtime error)[^\n]*/);
    if (m) throw new Error(`sanitizer report from the server: ${m[0]}`);
  };
  return s;
}

const b64u = (b) => Buffer.from(b).toString('base64url');

// Sign claims {sub, role, client_id, sid?, iat?, exp?} like the server does.
export function mint(claims) {
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now, exp: now + 900, ...claims };
  const h = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const p = b64u(JSON.stringify(body));
  const sig = createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
  return `${h}.${p}.${sig}`;
}

export function sql(server, query) {
  const out = execFileSync('sqlite3', ['-cmd', '.timeout 10000', '-json', server.dbPath, query], {
    encoding: 'utf8',
  });
  return out.trim() ? JSON.parse(out) : [];
}

export function userByEmail(server, email) {
  const rows = sql(server, `SELECT id, role, client_id FROM users WHERE email = '${email}'`);
  if (!rows.length) throw new Error(`no user ${email}`);
  return rows[0];
}

// An access token for a demo user; ttlS overrides the lifetime.
export function tokenFor(server, email, { ttlS = 900, sid } = {}) {
  const u = userByEmail(server, email);
  const now = Math.floor(Date.now() / 1000);
  const claims = { sub: u.id, role: u.role, client_id: u.client_id, iat: now, exp: now + ttlS };
  if (sid) claims.sid = sid;
  return mint(claims);
}

export function clientId(server, slug) {
  return sql(server, `SELECT id FROM clients WHERE slug = '${slug}'`)[0].id;
}

export function headSeq(server) {
  return sql(server, 'SELECT COALESCE(MAX(seq), 0) AS s FROM changes')[0].s;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function until(pred, { timeoutMs = 5000, stepMs = 20, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

// A raw Phoenix client (vsn 1 objects or vsn 2 arrays), normalising every received frame to
// {join_ref, ref, topic, event, payload} in `msgs`.
export class RawClient {
  constructor(wsBase, token, { vsn = '1.0.0', query = '' } = {}) {
    this.vsn = vsn;
    this.url = `${wsBase}/websocket?apikey=${encodeURIComponent(token)}&vsn=${vsn}${query}`;
    this.msgs = [];
    this.ref = 0;
    this.closeCode = null;
  }

  open() {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(this.url);
      this.ws.on('open', () => resolve(this));
      this.ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      this.ws.on('error', (e) => reject(e));
      this.ws.on('close', (code) => { this.closeCode = code; });
      this.ws.on('message', (data, isBinary) => {
        if (isBinary) {
          this.msgs.push({ binary: true, data });
          return;
        }
        const m = JSON.parse(data.toString());
        this.msgs.push(Array.isArray(m)
          ? { join_ref: m[0], ref: m[1], topic: m[2], event: m[3], payload: m[4] }
          : { join_ref: m.join_ref ?? null, ref: m.ref, topic: m.topic, event: m.event, payload: m.payload });
      });
    });
  }

  send(topic, event, payload = {}, joinRef = null) {
    const ref = String(++this.ref);
    const frame = this.vsn === '2.0.0'
      ? [joinRef, ref, topic, event, payload]
      : { topic, event, payload, ref, join_ref: joinRef };
    this.ws.send(JSON.stringify(frame));
    return ref;
  }

  async reply(ref, timeoutMs = 5000) {
    return until(() => this.msgs.find((m) => m.event === 'phx_reply' && m.ref === ref), { timeoutMs, what: `reply ${ref}` });
  }

  async join(topic, config = {}, extra = {}) {
    const ref = String(this.ref + 1);
    this.send(topic, 'phx_join', { config: { broadcast: { self: false, ack: false }, presence: { key: '', enabled: false }, postgres_changes: [], ...config }, ...extra }, ref);
    return this.reply(ref);
  }

  events(event, topic) {
    return this.msgs.filter((m) => m.event === event && (!topic || m.topic === topic));
  }

  close() {
    this.ws?.terminate();
  }
}
