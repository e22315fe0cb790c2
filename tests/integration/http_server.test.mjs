// End-to-end HTTP tests of the server core against the real binary over real sockets:
// ops endpoints and metrics, security headers, static files, keep-alive and pipelining,
// request bodies (Content-Length, chunked, 100-continue), 404/405, CORS, --web-dir, and many
// concurrent keep-alive connections. Malformed input and timeouts are in http_limits.test.mjs.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { connect, get, sleep } from './lib/rawhttp.mjs';
import { startServer } from './lib/server.mjs';

let s;

before(async () => {
  s = await startServer({ demo: false, args: ['--cors-origins', 'http://a.test'] });
});
after(async () => {
  if (!s) return;
  const alive = s.proc.exitCode === null && s.proc.signalCode === null;
  const r = await s.stop();
  await s.cleanup();
  assert.ok(alive, `the server survived every test (exit ${JSON.stringify(r)})\n${s.logs.join('').slice(-3000)}`);
  assert.equal(r.code, 0, `clean exit on SIGTERM: ${JSON.stringify(r)}\n${s.logs.join('').slice(-3000)}`);
});

// A keep-alive connection that must keep being served while fn() does something nasty.
async function withWitness(fn) {
  const w = await connect(s.port);
  try {
    await w.write(get('/livez'));
    assert.equal((await w.readResponse()).status, 200);
    await fn();
    await w.write(get('/livez'));
    const r = await w.readResponse();
    assert.equal(r.status, 200, 'the concurrent keep-alive connection is still served');
    assert.equal(w.closed, false);
  } finally {
    w.close();
  }
}

function parseMetric(text, name, labels) {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (labels && !labels.every((l) => line.includes(l))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

// The JSON access-log lines (stderr) with a request_id.
function accessLog() {
  return s.logs.join('').split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try { return JSON.parse(l); } catch { return null; }
  }).filter((j) => j && j.request_id);
}

describe('ops endpoints', () => {
  test('GET /livez is 200 JSON', async () => {
    const c = await connect(s.port);
    await c.write(get('/livez'));
    const r = await c.readResponse();
    c.close();
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^application\/json/);
    assert.deepEqual(r.json, { status: 'ok' });
    assert.equal(Number(r.headers['content-length']), r.body.length);
  });

  test('HEAD /livez has Content-Length but no body', async () => {
    const c = await connect(s.port);
    // A GET right behind the HEAD: if the HEAD response carried a body, the next status
    // line would not start where it must.
    await c.write(`HEAD /livez HTTP/1.1\r\nHost: x\r\n\r\n${get('/livez')}`);
    const h = await c.readResponse({ head: true });
    assert.equal(h.status, 200);
    assert.ok(Number(h.headers['content-length']) > 0, 'Content-Length of the GET body');
    const g = await c.readResponse();
    c.close();
    assert.equal(g.status, 200);
    assert.equal(Number(h.headers['content-length']), g.body.length);
    assert.deepEqual(g.json, { status: 'ok' });
  });

  test('GET /readyz is 200', async () => {
    const r = await fetch(`${s.url}/readyz`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { status: 'ready' });
  });

  test('/metrics is Prometheus text and counts grow', async () => {
    const m1 = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of ['switchboard_http_requests_total', 'switchboard_http_request_duration_seconds_bucket',
      'switchboard_connections_open', 'switchboard_build_info']) {
      assert.ok(m1.includes(name), `metrics contain ${name}`);
    }
    assert.match(m1, /# TYPE switchboard_http_requests_total counter/);
    assert.match(m1, /# TYPE switchboard_http_request_duration_seconds histogram/);
    const labels = ['route="/livez"', 'status="200"'];
    const before1 = parseMetric(m1, 'switchboard_http_requests_total', labels) || 0;
    const acc1 = parseMetric(m1, 'switchboard_connections_accepted_total');
    for (let i = 0; i < 3; i++) await (await fetch(`${s.url}/livez`)).text();
    const res = await fetch(`${s.url}/metrics`);
    assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const m2 = await res.text();
    const after1 = parseMetric(m2, 'switchboard_http_requests_total', labels);
    assert.ok(after1 >= before1 + 3, `livez count ${before1} -> ${after1}`);
    const inf = parseMetric(m2, 'switchboard_http_request_duration_seconds_bucket', ['route="/livez"', 'le="+Inf"']);
    assert.ok(inf >= after1 - 1, 'histogram +Inf bucket counts the requests');
    assert.ok(parseMetric(m2, 'switchboard_connections_open') >= 1);
    assert.ok(parseMetric(m2, 'switchboard_connections_accepted_total') >= acc1);
    // Every sample line is "name{labels} value" or "name value".
    for (const line of m2.split('\n')) {
      if (!line || line.startsWith('#')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+(Inf)?$/, line);
    }
  });
});

describe('headers', () => {
  test('security headers on every response; no-store on /api; X-Request-Id', async () => {
    for (const [path, status] of [['/livez', 200], ['/', 200], ['/nope.js', 404], ['/api/v1/nope', 404], ['/metrics', 200]]) {
      const c = await connect(s.port);
      await c.write(get(path));
      const r = await c.readResponse();
      c.close();
      assert.equal(r.status, status, path);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
      assert.ok(r.headers['referrer-policy'], path);
      assert.match(r.headers['content-security-policy'] || '', /frame-ancestors 'none'/, path);
      // WebSockets only to our own origin: no ws:/wss: wildcard to any host.
      assert.match(r.headers['content-security-policy'] || '', /connect-src 'self';/, path);
      assert.doesNotMatch(r.headers['content-security-policy'] || '', /ws:|wss:/, path);
      assert.match(r.headers['x-request-id'] || '', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, path);
      if (path.startsWith('/api/')) assert.equal(r.headers['cache-control'], 'no-store', path);
    }
  });

  test('rejected requests carry the security headers too', async () => {
    const c = await connect(s.port);
    await c.write('GET / HTTP/2.0\r\nHost: x\r\n\r\n');
    const r = await c.readResponse();
    c.close();
    assert.equal(r.status, 505);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.match(r.headers['content-security-policy'] || '', /frame-ancestors 'none'/);
  });
});

describe('static files', () => {
  test('/ serves text/html with an ETag; If-None-Match gives 304 without a body', async () => {
    const c = await connect(s.port);
    await c.write(get('/'));
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'], /^text\/html/);
    assert.match(r.text, /<html|<!doctype/i);
    const etag = r.headers.etag;
    assert.match(etag || '', /^"[^"]+"$/);
    await c.write(get('/', `If-None-Match: ${etag}\r\n`) + get('/livez'));
    const nm = await c.readResponse();
    assert.equal(nm.status, 304);
    assert.equal(nm.body.length, 0);
    assert.equal(nm.headers.etag, etag);
    const next = await c.readResponse(); // framing intact: a 304 carries no body bytes
    assert.equal(next.status, 200);
    assert.deepEqual(next.json, { status: 'ok' });
    // A different ETag gets the full file.
    await c.write(get('/index.html', 'If-None-Match: "other"\r\n'));
    const full = await c.readResponse();
    c.close();
    assert.equal(full.status, 200);
    assert.equal(full.body.length, r.body.length);
  });

  test('unknown asset is 404', async () => {
    const r = await fetch(`${s.url}/no-such-asset.js`);
    assert.equal(r.status, 404);
    assert.equal((await r.json()).error.code, 'not_found');
  });

  test('path traversal never serves outside', async () => {
    await withWitness(async () => {
      for (const p of ['/../etc/passwd', '/%2e%2e/x', '/%2e%2e/%2e%2e/etc/passwd', '/..%2fetc%2fpasswd',
        '/a/../../etc/passwd', '/.env', '/%2E%2E/etc/passwd', '/..\\etc\\passwd']) {
        const c = await connect(s.port);
        await c.write(get(p));
        const r = await c.readResponse();
        c.close();
        assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
        assert.ok(!r.text.includes('root:'), p);
      }
    });
  });
});

describe('keep-alive and pipelining', () => {
  test('several requests on one socket', async () => {
    const c = await connect(s.port);
    const ids = new Set();
    for (let i = 0; i < 5; i++) {
      await c.write(get(i % 2 ? '/readyz' : '/livez'));
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.headers.connection, undefined, 'no Connection: close');
      ids.add(r.headers['x-request-id']);
    }
    assert.equal(ids.size, 5);
    assert.equal(c.closed, false);
    c.close();
  });

  test('3 pipelined requests are answered in order', async () => {
    const c = await connect(s.port);
    // /readyz runs on the thread pool, the others inline: order must still hold.
    const paths = ['/readyz', '/api/v1/pipe-two', '/pipe-three.js'];
    await c.write(paths.map((p) => get(p)).join(''));
    const rs = await c.readResponses(3);
    c.close();
    assert.deepEqual(rs.map((r) => r.status), [200, 404, 404]);
    assert.deepEqual(rs[0].json, { status: 'ready' });
    assert.equal(rs[1].json.error.code, 'not_found');
    assert.equal(rs[1].headers['cache-control'], 'no-store'); // /api response
    assert.equal(rs[2].headers['cache-control'], undefined); // static response
    // The access log ties each X-Request-Id to its path.
    await sleep(100);
    const log = accessLog();
    for (let i = 0; i < 3; i++) {
      const id = rs[i].headers['x-request-id'];
      const entry = log.find((l) => l.request_id === id);
      assert.ok(entry, `log line for ${id}`);
      assert.equal(entry.path, paths[i]);
    }
  });

  test('Connection: close is honoured', async () => {
    const c = await connect(s.port);
    await c.write(get('/livez', 'Connection: close\r\n'));
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.headers.connection, 'close');
    await c.waitClose(3000);
    c.close();
  });

  test('HTTP/1.0 without keep-alive closes; with keep-alive stays open', async () => {
    const c = await connect(s.port);
    await c.write('GET /livez HTTP/1.0\r\n\r\n');
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    await c.waitClose(3000);
    c.close();
    const k = await connect(s.port);
    await k.write('GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal((await k.readResponse()).status, 200);
    await k.write('GET /livez HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal((await k.readResponse()).status, 200);
    k.close();
  });
});

describe('request bodies', () => {
  const body = JSON.stringify({ hello: 'world', n: [1, 2, 3] });

  test('POST with Content-Length: 404 JSON and the connection stays usable', async () => {
    await withWitness(async () => {
      const c = await connect(s.port);
      // Body and the next request in one write: the body must be consumed exactly.
      await c.write(`POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}${get('/livez')}`);
      const r = await c.readResponse();
      assert.equal(r.status, 404);
      assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message']);
      assert.equal(r.json.error.code, 'not_found');
      assert.equal(typeof r.json.error.message, 'string');
      const n = await c.readResponse();
      assert.equal(n.status, 200);
      assert.equal(c.closed, false);
      c.close();
    });
  });

  test('POST with chunked encoding (extensions, trailer) keeps framing', async () => {
    await withWitness(async () => {
      const c = await connect(s.port);
      const a = body.slice(0, 10);
      const b = body.slice(10);
      await c.write(`POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Transfer-Encoding: chunked\r\n\r\n${a.length.toString(16)};ext=1\r\n${a}\r\n`);
      await sleep(50);
      await c.write(`${b.length.toString(16).toUpperCase()}\r\n${b}\r\n0\r\nX-Trailer: t\r\n\r\n${get('/livez')}`);
      const r = await c.readResponse();
      assert.equal(r.status, 404);
      assert.equal(r.json.error.code, 'not_found');
      const n = await c.readResponse();
      assert.equal(n.status, 200);
      assert.deepEqual(n.json, { status: 'ok' });
      c.close();
    });
  });

  // POST /api/v1/auth/login parses the body: a wrong login is 401, a broken body 400. So a
  // 401 proves the (decoded) body reached the handler intact.
  const login = JSON.stringify({ email: 'nobody@example.test', password: 'wrong-password' });
  const loginHead = 'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n';

  test('login body by Content-Length, sent after the head (buffer growth)', async () => {
    const c = await connect(s.port);
    await c.write(`${loginHead}X-Pad: ${'p'.repeat(3000)}\r\nContent-Length: ${login.length}\r\n\r\n`);
    await sleep(50);
    await c.write(login.slice(0, 5));
    await sleep(50);
    await c.write(login.slice(5) + `${loginHead}Content-Length: 4\r\n\r\n{bad`);
    const [a, b] = await c.readResponses(2);
    c.close();
    assert.equal(a.status, 401, a.text);
    assert.equal(a.json.error.code, 'unauthorized');
    assert.equal(b.status, 400, b.text);
    assert.match(b.json.error.message, /JSON/);
  });

  // Reading goes on while a request is in flight (no epoll_ctl per request): what comes
  // meanwhile waits for the answer, and an end of input does not cut it off.
  test('a request sent with a half-close (FIN right after it) still gets its answer, then the close', async () => {
    const c = await connect(s.port);
    c.sock.end(`${loginHead}Content-Length: ${login.length}\r\n\r\n${login}`, 'latin1');
    const r = await c.readResponse();
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error.code, 'unauthorized');
    await c.waitClose();
    assert.equal(c.pending().length, 0, 'nothing after the answer');
  });

  test('a request that arrives while the one before is in flight is answered after it', async () => {
    const c = await connect(s.port);
    await c.write(`${loginHead}Content-Length: ${login.length}\r\n\r\n${login}`);
    await sleep(2); // the login is hashing a password on the pool: the connection is busy
    await c.write(get('/livez'));
    await c.write(`${loginHead}Content-Length: 4\r\n\r\n{bad`);
    const [a, b, d] = await c.readResponses(3);
    assert.equal(a.status, 401, a.text);
    assert.equal(b.status, 200, b.text);
    assert.equal(d.status, 400, d.text);
    await c.write(get('/livez'));
    assert.equal((await c.readResponse()).status, 200, 'the connection goes on');
    c.close();
  });

  test('login body by chunked encoding', async () => {
    const c = await connect(s.port);
    const parts = [login.slice(0, 7), login.slice(7, 30), login.slice(30)];
    await c.write(`${loginHead}Transfer-Encoding: chunked\r\n\r\n`);
    for (const p of parts) {
      await sleep(20);
      await c.write(`${p.length.toString(16)}\r\n${p}\r\n`);
    }
    await c.write(`0\r\n\r\n${loginHead}Transfer-Encoding: chunked\r\n\r\n4\r\n{bad\r\n0\r\n\r\n`);
    const [a, b] = await c.readResponses(2);
    c.close();
    assert.equal(a.status, 401, a.text);
    assert.equal(b.status, 400, b.text);
  });

  test('Expect: 100-continue gets 100 Continue before the final response', async () => {
    const c = await connect(s.port);
    await c.write(`POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Expect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`);
    const cont = await c.readResponse();
    assert.equal(cont.status, 100);
    assert.equal(cont.rawHead, 'HTTP/1.1 100 Continue');
    await c.write(body);
    const r = await c.readResponse();
    assert.equal(r.status, 404);
    await c.write(get('/livez'));
    assert.equal((await c.readResponse()).status, 200);
    c.close();
  });

  test('body over 1 MiB announced by Content-Length: 413 before the body, then close', async () => {
    await withWitness(async () => {
      const c = await connect(s.port);
      await c.write(`POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${(1 << 20) + 1}\r\n\r\n`);
      const r = await c.readResponse({ timeoutMs: 3000 });
      assert.equal(r.status, 413);
      assert.equal(r.json.error.code, 'payload_too_large');
      assert.equal(r.headers.connection, 'close');
      await c.waitClose(4000);
      c.close();
    });
  });

  test('body of exactly 1 MiB is read', async () => {
    const c = await connect(s.port);
    const big = Buffer.alloc(1 << 20, 0x61);
    await c.write(`POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\n\r\n`);
    await c.write(big);
    await c.write(get('/livez'));
    const r = await c.readResponse({ timeoutMs: 8000 });
    assert.equal(r.status, 404);
    assert.equal((await c.readResponse()).status, 200);
    c.close();
  });

  test('chunked body over 1 MiB is 413 and closes', async () => {
    const c = await connect(s.port);
    await c.write(`POST /api/v1/nope HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${((1 << 20) + 1).toString(16)}\r\n`);
    const r = await c.readResponse({ timeoutMs: 3000 });
    assert.equal(r.status, 413);
    await c.waitClose(4000);
    c.close();
  });
});

describe('routing errors', () => {
  test('wrong method on an existing route is 405 with Allow', async () => {
    await withWitness(async () => {
      const c = await connect(s.port);
      await c.write('POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n' +
        'DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      const r = await c.readResponse();
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'GET');
      assert.equal(r.json.error.code, 'method_not_allowed');
      const d = await c.readResponse();
      assert.equal(d.status, 405);
      assert.equal(d.headers.allow, 'GET');
      c.close();
    });
  });

  test('routes with a path parameter: 405 names every method of the shape, near misses are 404', async () => {
    const cases = [
      ['PUT', '/api/v1/agents/0190a0a0-0000-7000-8000-000000000000', 405, 'GET, PATCH'],
      ['POST', '/api/v1/agents/x/history', 405, 'GET'],
      ['PATCH', '/api/v1/agents/%zz', 404, null], // a parameter that does not decode
      ['DELETE', '/api/v1/agents/%zz', 404, null],
      ['GET', '/api/v1/agentsx', 404, null], // literal text longer than the pattern's
      ['GET', '/api/v1/agent', 404, null], // and shorter
      ['GET', '/api/v1/agents/x/historyy', 404, null],
      ['GET', '/api/v1/agents/', 404, null], // an empty parameter
    ];
    for (const [m, path, status, allow] of cases) {
      const r = await fetch(`${s.url}${path}`, { method: m });
      assert.equal(r.status, status, `${m} ${path}`);
      assert.equal(r.headers.get('allow'), allow, `${m} ${path}`);
      await r.arrayBuffer();
    }
  });

  test('unknown /api path is 404 with the JSON error format', async () => {
    for (const m of ['GET', 'DELETE', 'PATCH', 'PUT']) {
      const r = await fetch(`${s.url}/api/v1/definitely/not/here?x=1`, { method: m });
      assert.equal(r.status, 404, m);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      const j = await r.json();
      assert.equal(j.error.code, 'not_found');
      assert.equal(typeof j.error.message, 'string');
      assert.ok(j.error.message.length > 0);
    }
  });
});

describe('CORS', () => {
  test('allowed origin gets ACAO; preflight 204 with Allow-Methods', async () => {
    const c = await connect(s.port);
    await c.write(get('/livez', 'Origin: http://a.test\r\n'));
    const r = await c.readResponse();
    assert.equal(r.headers['access-control-allow-origin'], 'http://a.test');
    assert.match(r.headers.vary || '', /Origin/);
    await c.write('OPTIONS /api/v1/clients HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\n' +
      'Access-Control-Request-Method: PATCH\r\nAccess-Control-Request-Headers: authorization, content-type\r\n\r\n');
    const p = await c.readResponse();
    c.close();
    assert.equal(p.status, 204);
    assert.equal(p.body.length, 0);
    assert.equal(p.headers['access-control-allow-origin'], 'http://a.test');
    assert.match(p.headers['access-control-allow-methods'] || '', /PATCH/);
    assert.match(p.headers['access-control-allow-headers'] || '', /Authorization/i);
  });

  test('other origin gets no ACAO', async () => {
    const c = await connect(s.port);
    await c.write(get('/livez', 'Origin: http://evil.test\r\n'));
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    await c.write('OPTIONS /api/v1/clients HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.test\r\n' +
      'Access-Control-Request-Method: DELETE\r\n\r\n');
    const p = await c.readResponse();
    c.close();
    assert.equal(p.headers['access-control-allow-origin'], undefined);
    assert.equal(p.headers['access-control-allow-methods'], undefined);
  });
});

describe('--web-dir', () => {
  let w;
  let root;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'sbweb-'));
    mkdirSync(join(root, 'www', 'sub'), { recursive: true });
    writeFileSync(join(root, 'www', 'index.html'), '<!doctype html><title>from disk</title>');
    writeFileSync(join(root, 'www', 'sub', 'app.js'), 'console.log("disk");\n');
    writeFileSync(join(root, 'secret.txt'), 'TOP-SECRET');
    w = await startServer({ demo: false, args: ['--web-dir', join(root, 'www')] });
  });
  after(async () => {
    if (w) await w.cleanup();
    rmSync(root, { recursive: true, force: true });
  });

  test('serves files from disk with ETag and 304', async () => {
    const c = await connect(w.port);
    await c.write(get('/'));
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    assert.equal(r.text, '<!doctype html><title>from disk</title>');
    assert.match(r.headers['content-type'], /^text\/html/);
    await c.write(get('/sub/app.js'));
    const js = await c.readResponse();
    assert.equal(js.status, 200);
    assert.equal(js.text, 'console.log("disk");\n');
    assert.match(js.headers['content-type'], /^text\/javascript/);
    await c.write(get('/sub/app.js', `If-None-Match: ${js.headers.etag}\r\n`));
    assert.equal((await c.readResponse()).status, 304);
    await c.write(get('/sub'));
    assert.equal((await c.readResponse()).status, 404, 'a directory is not served');
    c.close();
  });

  test('traversal out of --web-dir is refused', async () => {
    for (const p of ['/../secret.txt', '/%2e%2e/secret.txt', '/sub/../../secret.txt', '/sub/%2e%2e/%2e%2e/secret.txt',
      '/%2e%2e%2fsecret.txt']) {
      const c = await connect(w.port);
      await c.write(get(p));
      const r = await c.readResponse();
      c.close();
      assert.ok(r.status === 404 || r.status === 400, `${p}: ${r.status}`);
      assert.ok(!r.text.includes('TOP-SECRET'), p);
    }
  });
});

describe('many connections', () => {
  test('200 concurrent keep-alive connections x 5 requests', { timeout: 30000 }, async () => {
    const N = 200;
    const conns = await Promise.all(Array.from({ length: N }, () => connect(s.port, '127.0.0.1', 10000)));
    try {
      let ok = 0;
      await Promise.all(conns.map(async (c, i) => {
        for (let k = 0; k < 5; k++) {
          await c.write(get(k % 2 ? '/readyz' : `/livez?c=${i}`));
          const r = await c.readResponse({ timeoutMs: 15000 });
          assert.equal(r.status, 200);
          ok++;
        }
        assert.equal(c.closed, false);
      }));
      assert.equal(ok, N * 5);
      const m = await (await fetch(`${s.url}/metrics`)).text();
      assert.ok(parseMetric(m, 'switchboard_connections_open') >= N, 'gauge counts the open connections');
    } finally {
      for (const c of conns) c.close();
    }
  });
});

test('a static path longer than 1 KiB (up to the request-line limit) is a plain 404', async () => {
  const r = await fetch(`${s.url}/${'a'.repeat(3000)}.js`);
  assert.equal(r.status, 404);
  assert.equal((await r.json()).error.code, 'not_found');
  assert.equal((await fetch(`${s.url}/livez`)).status, 200);
});
