// GET /api/v1/openapi.json against the real binary: a valid OpenAPI 3.1 document (checked by
// @seriousme/openapi-schema-validator), every route of the router tables in src/api/*.c
// described, every described operation answered by the router (no drift either way), the
// error shape the server really sends, and GET /api/v1 as an index linking it.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { Validator } from '@seriousme/openapi-schema-validator';

import { api, login, startServer } from './lib/server.mjs';

const SRC = new URL('../../src/api/', import.meta.url).pathname;
let s;
let doc;

// The router tables as written in the sources: {method, pattern} of every route entry.
function sourceRoutes() {
  const out = [];
  for (const f of readdirSync(SRC).filter((n) => n.endsWith('.c'))) {
    const text = readFileSync(SRC + f, 'utf8');
    for (const m of text.matchAll(/\.method\s*=\s*HTTP_([A-Z]+),\s*\.pattern\s*=\s*"([^"]+)"/g)) {
      if (m[1] !== 'OTHER') out.push({ method: m[1].toLowerCase(), pattern: m[2] }); // OTHER: unmatched requests' metrics
    }
  }
  return out;
}

before(async () => {
  s = await startServer({ demo: true });
  const r = await api(s.url, 'GET', '/api/v1/openapi.json');
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  doc = r.json;
});
after(async () => {
  await s?.cleanup();
});

test('the document is valid OpenAPI 3.1', async () => {
  const v = new Validator();
  const res = await v.validate(doc);
  assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1));
  assert.equal(v.version, '3.1');
  assert.equal(doc.openapi, '3.1.0');
  assert.equal(doc.info.version, '0.1.0');
});

test('every route of the router tables is described, with its security and body', () => {
  const routes = sourceRoutes();
  assert.ok(routes.length >= 34, `found ${routes.length} routes in the sources`);
  for (const { method, pattern } of routes) {
    const op = doc.paths[pattern]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${pattern} is in the document`);
    assert.ok(op.summary && op.summary !== pattern, `${method} ${pattern} has a summary`);
    assert.equal(op.responses['4XX'].$ref, '#/components/responses/Error');
  }
  const documented = Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.keys(item).filter((k) => k !== 'parameters').map((m) => `${m} ${p}`));
  assert.equal(documented.length, routes.length, 'nothing documented that the router lacks');
  assert.deepEqual(doc.paths['/api/v1/users/{id}'].parameters, [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }]);
  assert.deepEqual(doc.paths['/api/v1/users'].post.security, [{ bearer: [] }]);
  assert.equal(doc.paths['/api/v1/users'].post.requestBody.required, true);
  assert.deepEqual(doc.paths['/api/v1/auth/login'].post.security, []);
  assert.ok(doc.paths['/api/v1/audit'].get.responses['2XX'].content['text/csv'], 'lists offer CSV');
  assert.ok(doc.paths['/api/v1/agents'].get.parameters.some((p) => p.name === 'sort'));
  const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((o) => o.operationId).filter(Boolean));
  assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
});

test('every documented operation is answered by the router (no 404 "no such endpoint", no 405)', async () => {
  const { access_token: root } = await login(s.url, 'root@demo.test');
  const id = '00000000-0000-4000-8000-000000000000';
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const m of Object.keys(item).filter((k) => k !== 'parameters')) {
      if (p === '/api/v1/auth/logout') continue; // would end the session used here
      const path = p.replace(/\{[^}]+\}/g, id);
      const r = await api(s.url, m.toUpperCase(), path, {
        token: root, body: item[m].requestBody ? {} : undefined,
      });
      assert.notEqual(r.status, 405, `${m} ${p}`);
      assert.ok(!(r.status === 404 && /no such endpoint/.test(r.text)), `${m} ${p}: ${r.status}`);
      if (r.status >= 400 && p !== '/metrics') {
        assert.equal(typeof r.json.error.code, 'string', `${m} ${p} error shape`);
        assert.equal(typeof r.json.error.message, 'string');
      }
    }
  }
});

test('GET /api/v1 is an index linking the document; unknown API paths stay 404', async () => {
  const r = await api(s.url, 'GET', '/api/v1');
  assert.equal(r.status, 200);
  assert.equal(r.json.openapi, '/api/v1/openapi.json');
  assert.equal(r.json.version, '0.1.0');
  const n = await api(s.url, 'GET', '/api/v1/nosuch');
  assert.equal(n.status, 404);
  assert.equal(n.json.error.code, 'not_found');
  const m = await api(s.url, 'POST', '/api/v1/openapi.json', { body: {} });
  assert.equal(m.status, 405);
});

test('a real 422 has the documented error shape with details', async () => {
  const { access_token: t } = await login(s.url, 'admin@acme.test');
  const r = await api(s.url, 'POST', '/api/v1/messages', { token: t, body: { title: '' } });
  assert.equal(r.status, 422);
  const props = doc.components.schemas.Error.properties.error.properties;
  for (const k of Object.keys(r.json.error)) assert.ok(k in props, `${k} is in the Error schema`);
  assert.ok(r.json.error.details.every((d) => typeof d.field === 'string' && typeof d.issue === 'string'));
});
