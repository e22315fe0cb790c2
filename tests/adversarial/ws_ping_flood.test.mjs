// Issue 11 items 2 and 3: a WebSocket peer that floods pings and never reads. Pongs count
// against the outbound cap (ws_max_queue), so the flood ends in the documented slow-consumer
// close (4008) with bounded memory; and since that peer does not read the close either, the
// close has a deadline (close_timeout) after which the socket is reset and freed:
// connections_open drops.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { sleep } from '../integration/lib/rawhttp.mjs';
import { startRtServer, tokenFor } from '../integration/lib/rt_helpers.mjs';
import { encodeFrame, handshake, OP } from '../integration/lib/wsconf.mjs';
import { metric, MiB, openConnectionsSettled, pollUntil, rssBound, rssBytes } from './lib.mjs';

const CLOSE_S = 2;
let server;

before(async () => {
  server = await startRtServer({ workers: 1, args: ['--close-timeout', `${CLOSE_S}s`] });
});
after(async () => {
  await server?.cleanup();
});

test('a ping flood from a peer that never reads: 4008, bounded memory, reset by the close deadline', { timeout: 120000 }, async () => {
  // A minted token, not a login: a pooled fetch connection closing later would skew
  // connections_open.
  const token = tokenFor(server, 'agent1@acme.test');
  const open0 = await openConnectionsSettled(server.port);
  const slow0 = await metric(server.port, 'switchboard_slow_consumer_disconnects_total');
  const rss0 = rssBytes(server.proc.pid);

  const hs = await handshake(`${server.wsUrl}/websocket?apikey=${token}&vsn=1.0.0`);
  assert.equal(hs.status, 101);
  const sock = hs.conn.socket;
  sock.pause(); // never read: our pongs fill the kernel buffers, then the server's queue
  let reset = false;
  sock.on('error', () => { reset = true; });

  // Up to 40 MiB of 125-byte pings, written in batches; stop once the server has closed
  // (it stops reading, so our writes stop draining) or the budget runs out.
  const ping = encodeFrame({ opcode: OP.PING, payload: Buffer.alloc(125, 0x61) });
  const batch = Buffer.concat(Array(2000).fill(ping));
  let sent = 0;
  const end = Date.now() + 30000;
  let slow = slow0;
  while (sent < 40 * MiB && Date.now() < end && !reset) {
    if (!sock.write(batch)) {
      await Promise.race([new Promise((r) => sock.once('drain', r)), sleep(500)]);
    }
    sent += batch.length;
    slow = await metric(server.port, 'switchboard_slow_consumer_disconnects_total');
    if (slow > slow0) break;
  }
  slow = await pollUntil(() => metric(server.port, 'switchboard_slow_consumer_disconnects_total'), (n) => n > slow0,
    { timeoutMs: 10000, what: 'a slow-consumer close' });
  const rss1 = rssBytes(server.proc.pid);
  const growth = rss1 - rss0;
  console.log(`# ${(sent / MiB).toFixed(1)} MiB of pings sent, never read: slow-consumer closes ${slow0} -> ${slow}, ` +
    `RSS ${(rss0 / MiB).toFixed(1)} -> ${(rss1 / MiB).toFixed(1)} MiB`);
  assert.equal(slow, slow0 + 1);
  // Before the fix the pongs queued without limit (46 MB queued, RSS 144 MiB in the audit).
  const bound = rssBound(server.proc.pid, 16);
  assert.ok(growth < bound, `RSS grew by ${(growth / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);

  // The close is not waiting for a peer that never reads: reset and freed by its deadline.
  const t0 = Date.now();
  await pollUntil(() => metric(server.port, 'switchboard_connections_open'), (n) => n <= open0,
    { timeoutMs: (CLOSE_S + 10) * 1000, what: 'connections_open back to its value before the flood' });
  console.log(`# freed ${Date.now() - t0} ms after the slow-consumer close was counted`);
  assert.equal(await metric(server.port, 'switchboard_websockets_open'), 0);
  assert.equal(await metric(server.port, 'switchboard_outbound_queued_bytes') < 64 * 1024, true);
  // The peer sees a reset, not an orderly end.
  sock.resume();
  await hs.conn.waitClosed(10000);
  sock.destroy();
});
