// User-space memory per idle realtime connection with one joined channel (one postgres
// binding, all on the same topic as a panel would be): the heap gauge (mallinfo2, every arena) before and after opening N connections.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { RawClient, sleep, startRtServer, tokenFor } from './lib/rt_helpers.mjs';

let server;

before(async () => {
  server = await startRtServer({ workers: 1, args: ['--max-user-connections', '0'] }); // one loop: one malloc arena, a steadier reading
});
after(async () => {
  await server?.cleanup();
});

async function heap() {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const m = text.match(/^switchboard_process_heap_bytes (\d+)$/m);
  assert.ok(m, 'heap gauge present');
  return Number(m[1]);
}

test('bytes per idle connection with one channel', { timeout: 120000 }, async () => {
  const token = tokenFor(server, 'agent1@acme.test', { ttlS: 3600 });
  // 2,000 connections, so the loop's fixed costs that grow meanwhile (libuv's watcher array,
  // the demo's history, the metrics buffer: about 13 KiB) weigh about 7 bytes each, not 33.
  const N = 2000;
  const warm = [];
  for (let i = 0; i < 20; i++) warm.push(await new RawClient(server.wsUrl, token).open());
  await Promise.all(warm.map((c, i) => c.join('realtime:agents', { postgres_changes: [{ event: '*', schema: 'public', table: 'agent_status' }] })));
  await sleep(300);
  const h0 = await heap();
  const clients = [];
  for (let i = 0; i < N; i++) clients.push(await new RawClient(server.wsUrl, token).open());
  await Promise.all(clients.map((c, i) => c.join('realtime:agents', { postgres_changes: [{ event: '*', schema: 'public', table: 'agent_status' }] })));
  await sleep(500);
  const h1 = await heap();
  const per = (h1 - h0) / N;
  console.log(`# user-space heap bytes per idle connection with one channel: ${per.toFixed(0)}`);
  for (const c of [...clients, ...warm]) c.close();
  // The figure is reported above and recorded in docs/benchmarks.md (480 bytes in malloc
  // chunks: connection 320, realtime connection 64, channel 96; the gauge reads about 507). The bound catches a buffer per idle connection coming back (a kept message
  // or read buffer is kilobytes) with room for the other threads: the demo's jobs and
  // SQLite's page cache sometimes grow between the two readings, and such runs have read up
  // to 1,400 bytes. A smaller regression shows in the printed figure, not here.
  assert.ok(per < 2048, `${per} bytes per connection`);
});
