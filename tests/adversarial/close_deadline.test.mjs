// Issue 11 item 3: every close has a deadline. The server closes a connection after a large
// answer (Connection: close); a peer that stops reading is reset within about close_timeout
// and leaves connections_open, while a peer that keeps reading, however slowly, is not cut:
// the deadline counts from the last time our output moved.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { connect, get, sleep } from '../integration/lib/rawhttp.mjs';
import { startRtServer } from '../integration/lib/rt_helpers.mjs';
import { metric, MiB, openConnectionsSettled, pollUntil } from './lib.mjs';

const CLOSE_S = 1;
const SIZE = 16 * MiB; // more than the loopback socket buffers hold
let server;
let web;

before(async () => {
  web = mkdtempSync(join(tmpdir(), 'sbadv-web-'));
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(web, 'big.bin'), Buffer.alloc(SIZE, 0x62));
  server = await startRtServer({ workers: 1, args: ['--web-dir', web, '--close-timeout', `${CLOSE_S}s`] });
});
after(async () => {
  await server?.cleanup();
  if (web) rmSync(web, { recursive: true, force: true });
});

test('a closing connection whose peer stopped reading is reset by the deadline', { timeout: 60000 }, async () => {
  const open0 = await openConnectionsSettled(server.port);
  const c = await connect(server.port);
  c.sock.pause();
  await c.write(get('/big.bin', 'Connection: close\r\n'));
  await sleep(300);
  assert.ok(await metric(server.port, 'switchboard_connections_open') > open0, 'the connection is open while its answer is stuck');
  const t0 = Date.now();
  await pollUntil(() => metric(server.port, 'switchboard_connections_open'), (n) => n <= open0,
    { timeoutMs: (CLOSE_S + 10) * 1000, stepMs: 100, what: 'connections_open back to its value before' });
  console.log(`# stuck close freed ${Date.now() - t0} ms after the request (close_timeout ${CLOSE_S} s)`);
  assert.ok(server.logs.join('').includes('close timeout: the peer does not read'));
  c.sock.resume();
  await c.waitClose(10000);
  // Reset: the answer never arrived whole.
  assert.ok(c.pending().length < SIZE, `got ${c.pending().length} of ${SIZE} bytes`);
  c.close();
});

test('a slow peer that keeps reading gets the whole answer before the close', { timeout: 120000 }, async () => {
  const c = await connect(server.port);
  const sock = c.sock;
  await c.write(get('/big.bin', 'Connection: close\r\n'));
  // Read in short bursts: long stretches without reading, but the output moves within every
  // close_timeout window.
  let reading = true;
  const pacer = (async () => {
    while (reading && !c.closed) {
      sock.pause();
      await sleep(300);
      sock.resume();
      await sleep(100);
    }
  })();
  try {
    const res = await c.readResponse({ timeoutMs: 90000 });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, SIZE);
    await c.waitClose(10000);
  } finally {
    reading = false;
    await pacer;
    c.close();
  }
});
