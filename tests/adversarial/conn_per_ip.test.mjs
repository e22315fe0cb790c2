// Issue 11 item 5: connections per IP address are capped (max_connections_per_ip). One
// connection past the cap gets 429 with a JSON error and is closed; once one of the open
// connections goes away, the address may connect again.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { connect, get } from '../integration/lib/rawhttp.mjs';
import { startRtServer } from '../integration/lib/rt_helpers.mjs';
import { pollUntil } from './lib.mjs';

const CAP = 5;
let server;

before(async () => {
  server = await startRtServer({ workers: 2, args: ['--max-connections-per-ip', String(CAP)] });
});
after(async () => {
  await server?.cleanup();
});

async function livez() {
  const c = await connect(server.port);
  try {
    await c.write(get('/livez', 'Connection: close\r\n'));
    return await c.readResponse({ timeoutMs: 5000 });
  } finally {
    c.close();
  }
}

test('one connection past max_connections_per_ip gets 429 and is closed', { timeout: 60000 }, async () => {
  // Counted over all workers: hold CAP connections, each proven open by an answer.
  const held = [];
  for (let i = 0; i < CAP; i++) {
    const c = await connect(server.port);
    await c.write(get('/livez'));
    assert.equal((await c.readResponse({ timeoutMs: 5000 })).status, 200);
    held.push(c);
  }
  const extra = await connect(server.port);
  await extra.write(get('/livez'));
  const r = await extra.readResponse({ timeoutMs: 5000 });
  assert.equal(r.status, 429);
  assert.equal(r.json?.error?.code, 'too_many_connections');
  assert.match(r.json?.error?.message ?? '', /too many connections/);
  await extra.waitClose(5000);
  // The held connections still work.
  await held[0].write(get('/livez'));
  assert.equal((await held[0].readResponse({ timeoutMs: 5000 })).status, 200);

  // One goes away: the address is below the cap again.
  held.pop().close();
  const again = await pollUntil(livez, (res) => res.status === 200, { timeoutMs: 5000, what: 'a 200 after a held connection closed' });
  assert.equal(again.status, 200);
  for (const c of held) c.close();
});
