// A loop writes gathered frames to its WebSockets in slices of a few hundred connections per
// turn, and frames published meanwhile join the pass under way (net/ws.c, "corking"). Here
// 1,200 subscribers sit on one loop (several slices per pass) while broadcasts arrive as
// fast as one sender can publish them, and a second topic's subscribers get their own
// stream in between: every subscriber must receive each of its topic's frames exactly once
// and in order, and none of the other topic's.
// /metrics counts the passes: far fewer than the frames, since frames published during a pass
// join it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { RawClient, sleep, startRtServer, tokenFor, until } from './lib/rt_helpers.mjs';
import { api } from './lib/server.mjs';

let server;

async function passes() {
  const r = await api(server.url, 'GET', '/metrics');
  assert.equal(r.status, 200);
  const m = r.text.match(/^switchboard_ws_passes_total (\d+)$/m);
  assert.ok(m, '/metrics counts the passes');
  return Number(m[1]);
}

before(async () => {
  server = await startRtServer({ workers: 1, args: ['--max-user-connections', '0'] });
});
after(async () => {
  await server?.cleanup();
});

test('frames published during a sliced pass reach every subscriber once, in order', { timeout: 120000 }, async () => {
  const token = tokenFor(server, 'agent1@acme.test', { ttlS: 3600 });
  const N = 1200;
  const subs = [];
  try {
    for (let i = 0; i < N; i++) subs.push(await new RawClient(server.wsUrl, token, { vsn: i % 2 ? '2.0.0' : '1.0.0' }).open());
    // Two topics interleaved on the loop: every third subscriber is on "b".
    const topicOf = (i) => (i % 3 === 2 ? 'realtime:pass-b' : 'realtime:pass-a');
    for (let i = 0; i < N; i += 100) {
      await Promise.all(subs.slice(i, i + 100).map((c, k) => c.join(topicOf(i + k))));
    }
    const sender = await new RawClient(server.wsUrl, token).open();
    subs.push(sender);
    const ja = await sender.join('realtime:pass-a');
    const jb = await sender.join('realtime:pass-b');
    assert.equal(ja.payload.status, 'ok');
    assert.equal(jb.payload.status, 'ok');
    const joinA = sender.msgs.find((m) => m.event === 'phx_reply' && m.topic === 'realtime:pass-a').ref;
    const joinB = sender.msgs.find((m) => m.event === 'phx_reply' && m.topic === 'realtime:pass-b').ref;
    // 60 frames per topic, sent back to back without waiting: most arrive while the loop is
    // in the middle of writing an earlier pass to 1,200 sockets.
    const M = 60;
    const pad = 'p'.repeat(300);
    const passes0 = await passes();
    for (let k = 0; k < M; k++) {
      sender.send('realtime:pass-a', 'broadcast', { type: 'broadcast', event: 'n', payload: { k, t: 'a', pad } }, joinA);
      sender.send('realtime:pass-b', 'broadcast', { type: 'broadcast', event: 'n', payload: { k, t: 'b', pad } }, joinB);
      if (k % 20 === 19) await sleep(5);
    }
    await until(() => subs.slice(0, N).every((c) => c.events('broadcast').length >= M), { timeoutMs: 60000, what: 'every subscriber has its frames' });
    await sleep(300); // nothing more may come
    for (let i = 0; i < N; i++) {
      const got = subs[i].events('broadcast').map((m) => m.payload.payload);
      const want = topicOf(i) === 'realtime:pass-a' ? 'a' : 'b';
      assert.deepEqual(got.map((p) => p.t), Array(M).fill(want), `subscriber ${i}: its topic only`);
      assert.deepEqual(got.map((p) => p.k), [...Array(M).keys()], `subscriber ${i}: once, in order`);
      assert.equal(subs[i].closeCode, null, `subscriber ${i} still open`);
    }
    const n = (await passes()) - passes0;
    assert.ok(n >= 1 && n <= M, `${2 * M} frames went out in ${n} passes`);
  } finally {
    for (const c of subs) c.close();
  }
});
