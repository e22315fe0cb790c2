// A small in-memory stand-in for the switchboard server, for developing and eyeballing the
// panel without the C server: serves web/dist, a subset of /api/v1 and the realtime protocol
// (Phoenix vsn 1.0.0 / 2.0.0 text frames, kind-3 binary broadcasts, postgres_changes with
// `col=eq.v` filters, broadcast, presence). Not a reference implementation: DESIGN.md is.
//
//   node web/dev/mock-server.mjs [port]        (needs `ws`, installed at the repo root)
// Test hooks: POST /__mock/drop (close every socket), POST /__mock/touch/agent_status/<id>
// (an update "by someone else"), POST /__mock/burst/<n> (n new messages at once).
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID, createHash } from 'node:crypto';
import { WebSocketServer } from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist');
const port = Number(process.argv[2] || process.env.PORT || 8099);
const now = () => new Date().toISOString();
let seq = 0;

const db = { clients: [], users: [], agent_status: [], system_messages: [], audit_logs: [], history: [] };
function row(table, r) {
  const x = { id: randomUUID(), created_at: now(), updated_at: now(), version: 1, ...r };
  db[table].push(x);
  return x;
}
const acme = row('clients', { name: 'Acme', slug: 'acme', status: 'active', settings: {} });
const globex = row('clients', { name: 'Globex', slug: 'globex', status: 'active', settings: {} });
const mkUser = (email, role, c) => row('users', { email, name: email.split('@')[0], role, client_id: c ? c.id : null, status: 'active', last_login_at: null });
mkUser('root@demo.test', 'super_admin', null);
mkUser('admin@acme.test', 'admin', acme);
mkUser('viewer@acme.test', 'viewer', acme);
mkUser('admin@globex.test', 'admin', globex);
for (let i = 1; i <= 5; i++) mkUser(`agent${i}@acme.test`, 'agent', acme);
for (let i = 1; i <= 3; i++) mkUser(`agent${i}@globex.test`, 'agent', globex);
for (const u of db.users.filter((x) => x.role === 'agent'))
  row('agent_status', { client_id: u.client_id, user_id: u.id, display_name: u.name + (u.client_id === acme.id ? ' (Acme)' : ' (Globex)'), status: 'offline', reason: '', status_since: now(), updated_by: null });
row('system_messages', { client_id: null, title: 'Welcome to switchboard', body: 'Global demo message', priority: 'normal', starts_at: now(), expires_at: null, state: 'active', created_by: null });
row('system_messages', { client_id: acme.id, title: 'Acme maintenance tonight', body: '', priority: 'high', starts_at: now(), expires_at: null, state: 'active', created_by: null });
row('system_messages', { client_id: globex.id, title: 'Globex notice', body: '', priority: 'low', starts_at: now(), expires_at: null, state: 'active', created_by: null });

const tokens = new Map(); // access token -> user
const refreshTokens = new Map();
function issue(u) {
  const a = 'at_' + randomUUID();
  const r = 'rt_' + randomUUID();
  tokens.set(a, u);
  refreshTokens.set(r, u);
  return { access_token: a, refresh_token: r, expires_in: Number(process.env.MOCK_EXPIRES_IN || 900), user: u };
}
const visible = (u, r) => u.role === 'super_admin' || r.client_id == null || r.client_id === u.client_id || (r.id === u.client_id);

const sockets = new Set();
function emit(table, type, record, old) {
  seq++;
  for (const s of sockets)
    for (const ch of s.channels.values())
      for (const b of ch.bindings) {
        if (b.table !== '*' && b.table !== table) continue;
        if (b.event !== '*' && b.event !== type) continue;
        const r = record || old;
        if (!visible(s.user, r)) continue;
        if (b.filter) {
          const m = /^(\w+)=eq\.(.*)$/.exec(b.filter);
          if (m && String(r[m[1]]) !== m[2]) continue;
        }
        const data = { schema: 'public', table, type, commit_timestamp: now(), columns: [], errors: null, seq };
        if (record) data.record = record;
        if (old) data.old_record = old;
        send(s, null, null, ch.topic, 'postgres_changes', { ids: [b.id], data });
      }
}
function audit(u, action, type, id, before, after) {
  const prev = db.audit_logs.length ? db.audit_logs[db.audit_logs.length - 1].hash : '';
  const e = { id: randomUUID(), seq: db.audit_logs.length + 1, at: now(), actor_id: u && u.id, actor_email: u && u.email, client_id: (after || before || {}).client_id || null, action, entity_type: type, entity_id: id, before, after, ip: '127.0.0.1', user_agent: '', request_id: randomUUID(), prev_hash: prev };
  e.hash = createHash('sha256').update(prev + JSON.stringify(e)).digest('hex');
  db.audit_logs.push(e);
  emit('audit_logs', 'INSERT', e);
}
function update(table, r, patch, u) {
  const before = { ...r };
  Object.assign(r, patch, { version: r.version + 1, updated_at: now() });
  if (table === 'agent_status' && patch.status && patch.status !== before.status) {
    r.status_since = now();
    db.history.push({ id: randomUUID(), agent_id: r.id, client_id: r.client_id, status: before.status, reason: before.reason, started_at: before.status_since, ended_at: now(), changed_by: u && u.id });
  }
  audit(u, `${table}.update`, table, r.id, before, { ...r });
  emit(table, 'UPDATE', { ...r }, { ...before });
  return r;
}

function send(s, jr, ref, topic, event, payload) {
  if (s.ws.readyState !== 1) return;
  s.ws.send(s.vsn === '1.0.0' ? JSON.stringify({ topic, event, payload, ref }) : JSON.stringify([jr, ref, topic, event, payload]));
}

function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(body === undefined ? '' : JSON.stringify(body));
}
const err = (res, status, code, message, extra) => json(res, status, { error: { code, message, ...extra } });

async function readBody(req) {
  let b = '';
  for await (const c of req) b += c;
  return b ? JSON.parse(b) : {};
}

const tables = { agents: 'agent_status', messages: 'system_messages', clients: 'clients', users: 'users' };

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  try {
    if (p === '/livez') return json(res, 200, { ok: true });
    if (p.startsWith('/__mock/')) {
      if (p === '/__mock/drop') { for (const s of sockets) s.ws.terminate(); return json(res, 200, { dropped: true }); }
      let m = /^\/__mock\/touch\/(\w+)\/(.+)$/.exec(p);
      if (m) { const r = db[m[1]].find((x) => x.id === m[2]); update(m[1], r, { reason: 'changed elsewhere ' + Date.now() }, null); return json(res, 200, r); }
      m = /^\/__mock\/burst\/(\d+)$/.exec(p);
      if (m) { for (let i = 0; i < Number(m[1]); i++) { const r = row('system_messages', { client_id: null, title: `Burst ${i}`, body: '', priority: 'normal', starts_at: now(), expires_at: null, state: 'active', created_by: null }); emit('system_messages', 'INSERT', r); } return json(res, 200, { ok: true }); }
    }
    if (p === '/api/v1/auth/login' && req.method === 'POST') {
      const b = await readBody(req);
      const u = db.users.find((x) => x.email === String(b.email || '').toLowerCase());
      if (!u || b.password !== 'demo-password') return err(res, 401, 'invalid_credentials', 'Invalid email or password');
      u.last_login_at = now();
      return json(res, 200, issue(u));
    }
    if (p === '/api/v1/auth/refresh' && req.method === 'POST') {
      const b = await readBody(req);
      const u = refreshTokens.get(b.refresh_token);
      if (!u) return err(res, 401, 'invalid_token', 'Refresh token invalid');
      refreshTokens.delete(b.refresh_token);
      return json(res, 200, issue(u));
    }
    if (p.startsWith('/api/')) {
      const tok = (req.headers.authorization || '').replace(/^Bearer /, '');
      const u = tokens.get(tok);
      if (!u) return err(res, 401, 'unauthorized', 'Missing or invalid token');
      if (p === '/api/v1/auth/logout') { tokens.delete(tok); return json(res, 204); }
      if (p === '/api/v1/me') return json(res, 200, u);
      if (p === '/api/v1/dashboard') return json(res, 200, metrics(u));
      if (p === '/api/v1/audit/verify') return json(res, 200, { ok: true, checked: db.audit_logs.length, first_bad_seq: null });
      if (p === '/api/v1/audit') return json(res, 200, { data: db.audit_logs.filter((r) => visible(u, r)).slice().reverse().slice(0, 50), next_cursor: null, seq });
      if (p === '/api/v1/agents/bulk-status' && req.method === 'POST') {
        const b = await readBody(req);
        const out = b.ids.map((id) => db.agent_status.find((x) => x.id === id)).filter(Boolean).map((r) => update('agent_status', r, { status: b.status, reason: b.reason || '' }, u));
        return json(res, 200, { data: out });
      }
      let m = /^\/api\/v1\/agents\/([^/]+)\/history$/.exec(p);
      if (m) return json(res, 200, { data: db.history.filter((h) => h.agent_id === m[1]).reverse(), next_cursor: null, seq });
      m = /^\/api\/v1\/(agents|messages|clients|users)(?:\/([^/]+))?$/.exec(p);
      if (m) {
        const table = tables[m[1]];
        const id = m[2];
        if (!id && req.method === 'GET') {
          let list = db[table].filter((r) => visible(u, r));
          for (const k of ['status', 'state', 'priority', 'role', 'client_id']) { const v = url.searchParams.get(k); if (v) list = list.filter((r) => r[k] === v); }
          return json(res, 200, { data: list, next_cursor: null, seq });
        }
        if (!id && req.method === 'POST') {
          const b = await readBody(req);
          if (u.role !== 'super_admin' && u.role !== 'admin') return err(res, 403, 'forbidden', 'Not allowed');
          if (table === 'users') delete b.password;
          const r = row(table, { ...b, ...(table === 'system_messages' ? { state: 'active', client_id: b.client_id || (u.role === 'super_admin' ? null : u.client_id), created_by: u.id } : {}), ...(table === 'clients' ? { status: 'active', settings: {} } : {}), ...(table === 'users' ? { status: 'active', client_id: b.client_id || u.client_id } : {}) });
          audit(u, `${table}.create`, table, r.id, null, r);
          emit(table, 'INSERT', r);
          return json(res, 201, r);
        }
        const r = db[table].find((x) => x.id === id && visible(u, x));
        if (!r) return err(res, 404, 'not_found', 'Not found');
        if (req.method === 'GET') return json(res, 200, r);
        const im = req.headers['if-match'];
        if (im && Number(im) !== r.version) return err(res, 409, 'version_conflict', 'Row changed', { current: r });
        if (req.method === 'PATCH') {
          const b = await readBody(req);
          if (u.role === 'viewer') return err(res, 403, 'forbidden', 'Read only');
          return json(res, 200, update(table, r, b, u));
        }
        if (req.method === 'DELETE') {
          db[table] = db[table].filter((x) => x !== r);
          audit(u, `${table}.delete`, table, r.id, r, null);
          emit(table, 'DELETE', null, { id: r.id, client_id: r.client_id });
          return json(res, 204);
        }
      }
      return err(res, 404, 'not_found', 'No route');
    }
    const f = join(dist, p === '/' ? 'index.html' : p.replace(/\.\./g, ''));
    if (!existsSync(f)) return err(res, 404, 'not_found', 'No such file');
    const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
    res.writeHead(200, { 'Content-Type': types[extname(f)] || 'application/octet-stream', 'Content-Security-Policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:" });
    res.end(readFileSync(f));
  } catch (e) {
    err(res, 500, 'internal', String(e));
  }
});

function metrics(u) {
  const mine = (t) => db[t].filter((r) => u.role === 'super_admin' || r.client_id === u.client_id || (t === 'system_messages' && r.client_id == null));
  const agents = { online: 0, away: 0, busy: 0, offline: 0 };
  for (const a of mine('agent_status')) agents[a.status]++;
  const msgs = { low: 0, normal: 0, high: 0, critical: 0 };
  for (const m of mine('system_messages')) if (m.state === 'active') msgs[m.priority]++;
  return { agents_by_status: agents, active_messages_by_priority: msgs, users: mine('users').length, connections: sockets.size, events_per_min: seq };
}

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, sock, head) => {
  const url = new URL(req.url, 'http://x');
  const u = tokens.get(url.searchParams.get('apikey'));
  if (!url.pathname.startsWith('/realtime/v1/') || !u) { sock.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'); return; }
  wss.handleUpgrade(req, sock, head, (ws) => {
    const s = { ws, user: u, vsn: url.searchParams.get('vsn') || '1.0.0', channels: new Map() };
    sockets.add(s);
    ws.on('close', () => { sockets.delete(s); for (const ch of s.channels.values()) leavePresence(s, ch); });
    ws.on('message', (data, isBinary) => {
      let jr, ref, topic, event, payload;
      if (isBinary) {
        const b = Buffer.from(data);
        if (b[0] !== 3) return;
        let o = 7; const take = (n) => { const v = b.subarray(o, o + n).toString(); o += n; return v; };
        jr = take(b[1]); ref = take(b[2]); topic = take(b[3]); const ev = take(b[4]); take(b[5]);
        event = 'broadcast'; payload = { type: 'broadcast', event: ev, payload: JSON.parse(b.subarray(o).toString() || '{}') };
      } else {
        const m = JSON.parse(String(data));
        if (Array.isArray(m)) [jr, ref, topic, event, payload] = m; else ({ join_ref: jr, ref, topic, event, payload } = m);
      }
      handle(s, jr, ref, topic, event, payload);
    });
  });
});

let bindingId = 1000;
const presence = new Map(); // topic -> Map(key -> {socket, metas})
function leavePresence(s, ch) {
  const pm = presence.get(ch.topic);
  if (!pm || !ch.presenceKey || !pm.has(ch.presenceKey)) return;
  const e = pm.get(ch.presenceKey);
  if (e.socket !== s) return;
  pm.delete(ch.presenceKey);
  fanout(ch.topic, 'presence_diff', { joins: {}, leaves: { [ch.presenceKey]: { metas: e.metas } } });
}
function fanout(topic, event, payload, except) {
  for (const s of sockets) if (s !== except) for (const ch of s.channels.values()) if (ch.topic === topic) send(s, null, null, topic, event, payload);
}
function handle(s, jr, ref, topic, event, payload) {
  const reply = (status, response) => send(s, jr, ref, topic, 'phx_reply', { status, response });
  if (topic === 'phoenix' && event === 'heartbeat') return reply('ok', {});
  if (event === 'phx_join') {
    const cfg = (payload && payload.config) || {};
    const pcs = (cfg.postgres_changes || []).map((b) => ({ ...b, id: bindingId++ }));
    const ch = { topic, jr, bindings: pcs, cfg, presenceKey: cfg.presence && cfg.presence.key };
    s.channels.set(topic, ch);
    reply('ok', { postgres_changes: pcs });
    if (cfg.presence && cfg.presence.enabled) {
      const pm = presence.get(topic) || new Map();
      const st = {};
      for (const [k, e] of pm) st[k] = { metas: e.metas };
      send(s, jr, null, topic, 'presence_state', st);
    }
    return;
  }
  const ch = s.channels.get(topic);
  if (!ch) return reply('error', { reason: 'unmatched topic' });
  if (event === 'phx_leave') { leavePresence(s, ch); s.channels.delete(topic); reply('ok', {}); send(s, jr, jr, topic, 'phx_close', {}); return; }
  if (event === 'access_token') { const nu = tokens.get(payload.access_token); if (nu) s.user = nu; return; }
  if (event === 'broadcast') {
    const self = ch.cfg.broadcast && ch.cfg.broadcast.self;
    fanout(topic, 'broadcast', { type: 'broadcast', event: payload.event, payload: payload.payload }, self ? null : s);
    if (ch.cfg.broadcast && ch.cfg.broadcast.ack) reply('ok', {});
    return;
  }
  if (event === 'presence') {
    const key = ch.presenceKey || randomUUID();
    ch.presenceKey = key;
    const pm = presence.get(topic) || new Map();
    presence.set(topic, pm);
    if (payload.event === 'track') {
      const metas = [{ phx_ref: randomUUID().slice(0, 8), ...payload.payload }];
      pm.set(key, { socket: s, metas });
      fanout(topic, 'presence_diff', { joins: { [key]: { metas } }, leaves: {} });
    } else leavePresence(s, ch);
    return reply('ok', {});
  }
  reply('ok', {});
}

setInterval(() => {
  for (const s of sockets) for (const ch of s.channels.values()) if (ch.topic === 'realtime:dashboard') send(s, null, null, ch.topic, 'broadcast', { type: 'broadcast', event: 'metrics', payload: metrics(s.user) });
}, 3000);

server.listen(port, '127.0.0.1', () => console.log(`mock switchboard on http://127.0.0.1:${port}/`));
