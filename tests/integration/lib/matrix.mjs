// The access matrix of issue 3 as data: roles x endpoints x target tenant, with the expected
// status computed from the rules of DESIGN §5 (not hand-written per cell), plus small helpers
// shared by the auth_* integration tests (JWT forging, logins from a chosen source address).
import crypto from 'node:crypto';
import http from 'node:http';

// Actors of the matrix: the demo user, its tenant ('acme' | 'globex' | null) and its role.
export const ACTORS = [
  { key: 'super_admin', email: 'root@demo.test', role: 'super_admin', tenant: null },
  { key: 'admin', email: 'admin@acme.test', role: 'admin', tenant: 'acme' },
  { key: 'agent', email: 'agent1@acme.test', role: 'agent', tenant: 'acme' },
  { key: 'viewer', email: 'viewer@acme.test', role: 'viewer', tenant: 'acme' },
  { key: 'globex_admin', email: 'admin@globex.test', role: 'admin', tenant: 'globex' },
];

// Which tables a role may read at all, and write (DESIGN §5). super_admin: everything.
const READS = {
  admin: new Set(['clients', 'users', 'audit']),
  agent: new Set(['clients']),
  viewer: new Set(['clients']),
};
const WRITES = {
  admin: new Set(['users']),
  agent: new Set(),
  viewer: new Set(),
};

// Endpoints: resource, operation, HTTP method. `row` says the route names one row by id.
export const ENDPOINTS = [
  { name: 'me', resource: 'me', op: 'get', method: 'GET' },
  { name: 'clients.list', resource: 'clients', op: 'list', method: 'GET' },
  { name: 'clients.get', resource: 'clients', op: 'get', method: 'GET', row: true },
  { name: 'users.list', resource: 'users', op: 'list', method: 'GET' },
  { name: 'users.get', resource: 'users', op: 'get', method: 'GET', row: true },
  { name: 'audit.list', resource: 'audit', op: 'list', method: 'GET' },
  { name: 'audit.verify', resource: 'audit', op: 'verify', method: 'GET' },
  { name: 'clients.update', resource: 'clients', op: 'update', method: 'PATCH', row: true },
  { name: 'users.update', resource: 'users', op: 'update', method: 'PATCH', row: true },
  { name: 'clients.create', resource: 'clients', op: 'create', method: 'POST' },
  { name: 'users.create', resource: 'users', op: 'create', method: 'POST' },
  { name: 'clients.delete', resource: 'clients', op: 'delete', method: 'DELETE', row: true },
  { name: 'users.delete', resource: 'users', op: 'delete', method: 'DELETE', row: true },
];

export const TARGETS = ['own', 'other'];

// The expected status of one cell, from the rules:
//  - super_admin may do everything (reads 200, create 201, update/delete 200);
//  - /me answers 200 to everyone;
//  - a role that may not read a resource at all gets 403 (list, verify, own rows) and 404 for
//    another tenant's row (never 403 for a foreign row: no existence leaks);
//  - another tenant's row answers 404 for reads and writes; a list filtered to another
//    tenant answers 200 with no rows;
//  - a role that may read but not write gets 403 on its own rows and 404 on foreign rows;
//  - creating: a role that may not write the table gets 403; an admin creating a user in
//    another tenant gets 422 (client_id not_found: the same answer as an unknown client).
export function expectedStatus(actor, ep, target) {
  if (ep.resource === 'me') return 200;
  const okStatus = ep.op === 'create' ? 201 : 200;
  if (actor.role === 'super_admin') return okStatus;
  const canRead = READS[actor.role].has(ep.resource);
  const canWrite = WRITES[actor.role].has(ep.resource);
  const foreign = target === 'other';
  switch (ep.op) {
    case 'list':
    case 'verify':
      return canRead ? 200 : 403;
    case 'get':
      if (foreign) return 404;
      return canRead ? 200 : 403;
    case 'update':
    case 'delete':
      if (foreign) return 404;
      return canWrite ? 200 : 403;
    case 'create':
      if (!canWrite) return 403;
      return foreign ? 422 : 201;
    default:
      throw new Error(`no rule for ${ep.name}`);
  }
}

// All cells, in a safe order: reads, then updates, then creates, then deletes (the table
// order of ENDPOINTS), so a write can never change what a later read expects.
export function cells() {
  const out = [];
  for (const ep of ENDPOINTS) {
    for (const actor of ACTORS) {
      for (const target of TARGETS) {
        if (ep.resource === 'me' && target === 'other') continue;
        out.push({ actor, ep, target, expect: expectedStatus(actor, ep, target) });
      }
    }
  }
  return out;
}

// ---- helpers shared by the auth tests ----

export const b64url = (buf) => Buffer.from(buf).toString('base64url');

// An HS256 JWT over header and payload with key (string or Buffer).
export function signJwt(payload, key, header = { alg: 'HS256', typ: 'JWT' }) {
  const h = b64url(JSON.stringify(header));
  const p = b64url(JSON.stringify(payload));
  const sig = crypto.createHmac('sha256', key).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64url(sig)}`;
}

export function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

// One JSON request from a chosen local address (127.x.y.z), so rate limits per IP can be
// exercised without sharing a budget. Resolves {status, headers, json, text}.
export function requestFrom(url, localAddress, method, path, body, timeoutMs = 10000) {
  return new Promise((resolve, reject) => {
    const u = new URL(url + path);
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, localAddress,
      agent: false,
      headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
      timeout: timeoutMs,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// A small seeded PRNG (mulberry32) for reproducible workloads.
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Walk every page of a list endpoint (path already carries its query) and return all rows.
export async function walk(api, url, path, token, maxPages = 500) {
  const rows = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await api(url, 'GET', cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path, { token });
    if (r.status !== 200) throw new Error(`walk ${path}: ${r.status} ${r.text}`);
    rows.push(...r.json.data);
    cursor = r.json.next_cursor;
    if (!cursor) return rows;
  }
  throw new Error(`walk ${path}: more than ${maxPages} pages`);
}
