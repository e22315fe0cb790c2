// Issue 11 item 1: a peer that pipelines many requests for a large static file and never
// reads the answers. The server stops reading that connection's requests while its output
// queue is above the cap (ws_max_queue, 1 MiB), so its memory stays bounded; other clients
// are still served; a connection whose output stays stuck is reset after idle_timeout and
// leaves connections_open.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { connect, get, sleep } from '../integration/lib/rawhttp.mjs';
import { startRtServer } from '../integration/lib/rt_helpers.mjs';
import { metric, MiB, openConnectionsSettled, pollUntil, rssBound, rssBytes } from './lib.mjs';

const IDLE_S = 4;
let server;

before(async () => {
  server = await startRtServer({ workers: 1, args: ['--idle-timeout', `${IDLE_S}s`] });
});
after(async () => {
  await server?.cleanup();
});

test('500 pipelined GETs of a large file from a peer that never reads', { timeout: 90000 }, async () => {
  // The file must be large for the flood to matter (the panel's script is ~140 KB).
  // (A raw connection that closes: a pooled fetch connection would skew connections_open.)
  const probe = await connect(server.port);
  await probe.write(get('/app.js', 'Connection: close\r\n'));
  const pres = await probe.readResponse({ timeoutMs: 5000 });
  await probe.waitClose(5000);
  const size = pres.body.length;
  assert.equal(pres.status, 200);
  assert.ok(size > 50 * 1024, `app.js is ${size} bytes`);

  const open0 = await openConnectionsSettled(server.port);
  const rss0 = rssBytes(server.proc.pid);
  const flood = await connect(server.port);
  flood.sock.pause(); // never read: the kernel buffers fill, then the server's queue
  const N = 500;
  await flood.write(get('/app.js').repeat(N));

  // Let the server go as far as it will: the queued-bytes gauge settles.
  let last = -1;
  let stable = 0;
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline && stable < 5) {
    const q = await metric(server.port, 'switchboard_outbound_queued_bytes');
    stable = q === last && q > 0 ? stable + 1 : 0;
    last = q;
    await sleep(200);
  }
  const queued = await metric(server.port, 'switchboard_outbound_queued_bytes');
  const rss1 = rssBytes(server.proc.pid);
  const growth = rss1 - rss0;
  console.log(`# ${N} pipelined GET /app.js (${size} B each, ${((N * size) / MiB).toFixed(1)} MiB of answers), never read: ` +
    `queued ${(queued / MiB).toFixed(2)} MiB, RSS ${(rss0 / MiB).toFixed(1)} -> ${(rss1 / MiB).toFixed(1)} MiB`);
  // The queue stops at the cap plus the one answer that crossed it.
  assert.ok(queued <= MiB + size + 4096, `queued ${queued} bytes`);
  // Before the fix every answer was queued: RSS grew by ~70 MiB.
  const bound = rssBound(server.proc.pid, 16);
  assert.ok(growth < bound, `RSS grew by ${(growth / MiB).toFixed(1)} MiB (bound ${bound / MiB} MiB)`);

  // Other clients are still served.
  const other = await connect(server.port);
  await other.write(get('/livez'));
  const res = await other.readResponse({ timeoutMs: 5000 });
  assert.equal(res.status, 200);
  other.close();

  // The stuck connection is reset after idle_timeout without progress and is freed.
  await pollUntil(() => metric(server.port, 'switchboard_connections_open'), (n) => n <= open0,
    { timeoutMs: (IDLE_S + 10) * 1000, what: 'connections_open back to its value before the flood' });
  flood.sock.resume();
  await flood.waitClose(30000); // generous: a loaded machine under ASan is slow to drain the paused socket
  const answers = flood.pending().toString('latin1').split('HTTP/1.1 200 OK').length - 1;
  assert.ok(answers < N, `the stuck connection was cut before all answers (${answers} of ${N})`);
});

test('a pipelining peer that reads gets every answer in order', { timeout: 60000 }, async () => {
  // Back-pressure must pause and resume, not lose or reorder requests.
  const conn = await connect(server.port);
  const N = 60;
  let reqs = '';
  for (let i = 0; i < N; i++) reqs += get(i % 2 ? '/app.js' : `/livez?i=${i}`);
  await conn.write(reqs);
  const out = await conn.readResponses(N, { timeoutMs: 15000 });
  for (let i = 0; i < N; i++) {
    assert.equal(out[i].status, 200);
    if (i % 2 === 0) assert.ok(!out[i].headers['content-type']?.includes('javascript'), `answer ${i} is /livez`);
    else assert.ok(out[i].headers['content-type']?.includes('javascript'), `answer ${i} is app.js`);
  }
  conn.close();
});
