// Issue 11 item 4: a request body trickled a byte at a time. The body has a total deadline,
// body_timeout plus one second per body_min_rate bytes received, so frequent single bytes do
// not keep the connection: the peer gets 408 with a JSON error and the connection closes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { connect, sleep } from '../integration/lib/rawhttp.mjs';
import { startRtServer } from '../integration/lib/rt_helpers.mjs';
import { metric, openConnectionsSettled, pollUntil } from './lib.mjs';

const BODY_S = 2;
let server;

before(async () => {
  // The gap between bytes (250 ms) is well inside body_timeout, so only the total deadline
  // can end these requests.
  server = await startRtServer({ workers: 2, args: ['--body-timeout', `${BODY_S}s`, '--body-min-rate', '1KiB'] });
});
after(async () => {
  await server?.cleanup();
});

function head(len) {
  return `POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;
}

test('20 bodies trickled a byte every 250 ms get 408 by the total deadline and are closed', { timeout: 60000 }, async () => {
  const open0 = await openConnectionsSettled(server.port);
  const N = 20;
  const conns = await Promise.all(Array.from({ length: N }, () => connect(server.port)));
  const t0 = Date.now();
  await Promise.all(conns.map((c) => c.write(head(1000))));
  let stop = false;
  const trickle = (async () => {
    for (let i = 0; i < 1000 && !stop; i++) {
      for (const c of conns) if (!c.closed) c.sock.write('{');
      await sleep(250);
    }
  })();
  try {
    const results = await Promise.all(conns.map((c) => c.readResponse({ timeoutMs: (BODY_S + 6) * 1000 })));
    const elapsed = Date.now() - t0;
    console.log(`# ${N} trickled bodies answered 408 after ${elapsed} ms (body_timeout ${BODY_S} s)`);
    for (const r of results) {
      assert.equal(r.status, 408);
      assert.equal(r.json?.error?.code, 'request_timeout');
      assert.match(r.headers.connection ?? '', /close/i);
    }
    // Without the total deadline each one would last 1000 bytes x 250 ms = 250 s.
    assert.ok(elapsed < (BODY_S + 6) * 1000);
    await Promise.all(conns.map((c) => c.waitClose(5000)));
  } finally {
    stop = true;
    await trickle;
    for (const c of conns) c.close();
  }
  await pollUntil(() => metric(server.port, 'switchboard_connections_open'), (n) => n <= open0,
    { timeoutMs: 10000, what: 'connections_open back to its value before' });
});

test('a body that arrives at a normal rate is not cut by the deadline', { timeout: 60000 }, async () => {
  // 3 KiB over ~3 s (1 KiB/s, above the floor after the first body_timeout): still read.
  const body = JSON.stringify({ email: 'nobody@acme.test', password: 'x'.repeat(3000) });
  const c = await connect(server.port);
  await c.write(head(body.length));
  for (let off = 0; off < body.length; off += 256) {
    await c.write(body.slice(off, off + 256));
    await sleep(250);
  }
  const r = await c.readResponse({ timeoutMs: 10000 });
  // The whole body was read and judged (the password is too long), not timed out.
  assert.equal(r.status, 422);
  assert.equal(r.json?.error?.code, 'validation_failed');
  c.close();
});
