// Graceful shutdown against the real binary: on SIGTERM the listeners close (new
// connections are refused), a request in flight (head and body sent 200 ms apart with the
// signal in between) still gets its complete response, an idle keep-alive connection is
// closed or answers /readyz 503, and the process exits 0 within the drain timeout.
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';

import { connect, get, sleep } from './lib/rawhttp.mjs';
import { startServer } from './lib/server.mjs';

function tryConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => { s.destroy(); resolve('connected'); });
    s.once('error', (e) => resolve(e.code));
  });
}

test('SIGTERM drains: in-flight request completes, new connections refused, exit 0', { timeout: 30000 }, async () => {
  const s = await startServer({ demo: false, args: ['--drain-timeout', '5s'] });
  try {
    const idle = await connect(s.port);
    await idle.write(get('/livez'));
    assert.equal((await idle.readResponse()).status, 200);

    const body = JSON.stringify({ in: 'flight' });
    const busy = await connect(s.port);
    await busy.write(`POST /api/v1/in-flight HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(100);
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    await sleep(100);
    assert.equal(await tryConnect(s.port), 'ECONNREFUSED', 'no new connections after SIGTERM');
    await busy.write(body);
    const r = await busy.readResponse({ timeoutMs: 5000 });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'not_found', 'the in-flight request got its complete response');
    assert.equal(r.headers.connection, 'close', 'draining responses close the connection');
    await busy.waitClose(3000);

    // The idle keep-alive connection: closed, or answers /readyz with 503.
    if (!idle.closed) {
      try {
        await idle.write(get('/readyz'));
        const rr = await idle.readResponse({ timeoutMs: 3000 });
        assert.equal(rr.status, 503);
      } catch (e) {
        assert.ok(idle.closed, `idle connection neither closed nor answered 503: ${e.message}`);
      }
    }
    const ex = await Promise.race([s.exited, sleep(6000).then(() => null)]);
    assert.ok(ex, 'exited within the drain timeout');
    assert.equal(ex.code, 0);
    assert.ok(Date.now() - t0 < 6000);
    assert.match(s.logs.join(''), /"msg":"shutting down"/);
    idle.close();
    busy.close();
  } finally {
    await s.cleanup();
  }
});

test('SIGTERM with a stalled request: exit 0 after at most the drain timeout', { timeout: 30000 }, async () => {
  const s = await startServer({ demo: false, args: ['--drain-timeout', '1s'] });
  try {
    const c = await connect(s.port);
    await c.write('POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial');
    await sleep(100);
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    const ex = await Promise.race([s.exited, sleep(5000).then(() => null)]);
    const dt = Date.now() - t0;
    assert.ok(ex, 'exited');
    assert.equal(ex.code, 0);
    assert.ok(dt >= 900 && dt < 4000, `exit after ${dt} ms with drain_timeout 1s`);
    await c.waitClose(3000);
    c.close();
  } finally {
    await s.cleanup();
  }
});

test('SIGINT also stops gracefully; many idle connections do not delay the exit', { timeout: 30000 }, async () => {
  const s = await startServer({ demo: false });
  try {
    const conns = await Promise.all(Array.from({ length: 50 }, () => connect(s.port)));
    await Promise.all(conns.map(async (c) => { await c.write(get('/livez')); await c.readResponse(); }));
    const t0 = Date.now();
    s.proc.kill('SIGINT');
    const ex = await Promise.race([s.exited, sleep(5000).then(() => null)]);
    assert.ok(ex, 'exited');
    assert.equal(ex.code, 0);
    assert.ok(Date.now() - t0 < 2000, 'idle keep-alive connections are closed at once');
    await Promise.all(conns.map((c) => c.waitClose(3000)));
    for (const c of conns) c.close();
  } finally {
    await s.cleanup();
  }
});
