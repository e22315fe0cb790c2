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
  const N = 400;
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
  // The figure is reported above and recorded in docs/benchmarks.md; the bound here only
  // catches gross regressions (a per-connection read buffer would be 64 KiB), since heap
  // readings move by a few hundred bytes per connection with allocator state.
  assert.ok(per < 4096, `${per} bytes per connection`);
});
