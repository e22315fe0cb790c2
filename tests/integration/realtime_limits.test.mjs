// What one realtime client can make the server hold is bounded (issue: hostile clients):
//   - presence: one track payload is capped (--max-presence-bytes), so one key cannot make
//     every later join's presence_state too big to deliver;
//   - subscriptions: the postgres_changes specs of all channels of a connection are capped
//     (--max-subscription-bytes), so 100 channels x 100 bindings x 100-value `in` filters
//     cannot pin tens of MiB;
//   - connections: one user holds at most --max-user-connections sockets (429 beyond).
// Each refusal is a clear error, changes nothing, and the server keeps serving.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rssBound, rssBytes } from '../adversarial/lib.mjs';
import { RawClient, sleep, startRtServer, tokenFor, until } from './lib/rt_helpers.mjs';

let s;
before(async () => {
  s = await startRtServer({ args: ['--max-presence-bytes', '4KiB', '--max-subscription-bytes', '16KiB', '--max-user-connections', '5'] });
});
after(async () => { await s?.cleanup(); });


test('a presence payload over the cap is refused; later joins still get the state', async () => {
  const tok = tokenFor(s, 'agent1@acme.test');
  const a = await new RawClient(s.wsUrl, tok).open();
  const join = await a.join('realtime:room', { presence: { key: 'a', enabled: true } });
  assert.equal(join.payload.status, 'ok');
  const jr = join.join_ref;
  const big = a.send('realtime:room', 'presence', { type: 'presence', event: 'track', payload: { blob: 'x'.repeat(600 * 1024) } }, jr);
  const r1 = await a.reply(big);
  assert.equal(r1.payload.status, 'error');
  assert.match(r1.payload.response.reason, /presence payload too large \(max 4096 bytes\)/);
  const ok = a.send('realtime:room', 'presence', { type: 'presence', event: 'track', payload: { mood: 'fine' } }, jr);
  assert.equal((await a.reply(ok)).payload.status, 'ok');

  const b = await new RawClient(s.wsUrl, tokenFor(s, 'agent2@acme.test')).open();
  assert.equal((await b.join('realtime:room', { presence: { key: 'b', enabled: true } })).payload.status, 'ok');
  const state = await until(() => b.events('presence_state', 'realtime:room')[0], { what: 'presence_state' });
  assert.equal(state.payload.a.metas[0].mood, 'fine');
  a.close();
  b.close();
});

test('postgres_changes specs per connection are capped; the refused join changes nothing', async () => {
  const c = await new RawClient(s.wsUrl, tokenFor(s, 'admin@acme.test')).open();
  const values = Array.from({ length: 100 }, (_, i) => `v${i}`).join(',');
  const spec = (n) => Array.from({ length: n }, () => ({ event: '*', schema: 'public', table: 'agent_status', filter: `display_name=in.(${values})` }));
  const before = rssBytes(s.proc.pid);
  let refused = 0;
  let joined = 0;
  for (let i = 0; i < 100; i++) {
    const r = await c.join(`realtime:ch${i}`, { postgres_changes: spec(100) });
    if (r.payload.status === 'ok') joined++;
    else {
      refused++;
      assert.match(r.payload.response.reason, /too many subscriptions: postgres_changes specs over 16384 bytes/);
    }
  }
  assert.equal(joined, 0, 'a 100-binding spec of 100-value filters alone is over 16 KiB');
  assert.equal(refused, 100);
  // Small joins still fit, up to the cap.
  let small = 0;
  for (let i = 0; i < 100; i++) {
    const r = await c.join(`realtime:small${i}`, { postgres_changes: spec(1) });
    if (r.payload.status !== 'ok') break;
    small++;
  }
  assert.ok(small > 5 && small < 100, `small joins that fit: ${small}`);
  // Leaving gives the bytes back.
  const leave = c.send(`realtime:small0`, 'phx_leave', {});
  await c.reply(leave);
  assert.equal((await c.join('realtime:again', { postgres_changes: spec(1) })).payload.status, 'ok');
  // Unbounded, these joins pinned about 96 MiB; the cap keeps growth to parsing garbage.
  const grown = rssBytes(s.proc.pid) - before;
  assert.ok(grown < rssBound(s.proc.pid, 16), `RSS grew ${grown >> 10} KiB`);
  c.close();
});

test('one user holds at most --max-user-connections sockets; a closed one frees its place', async () => {
  const tok = tokenFor(s, 'viewer@acme.test');
  const open = [];
  for (let i = 0; i < 5; i++) open.push(await new RawClient(s.wsUrl, tok).open());
  await assert.rejects(new RawClient(s.wsUrl, tok).open(), (e) => e.status === 429);
  // Another user is not affected.
  const other = await new RawClient(s.wsUrl, tokenFor(s, 'agent3@acme.test')).open();
  other.close();
  open.pop().close();
  await until(async () => {
    try { open.push(await new RawClient(s.wsUrl, tok).open()); return true; } catch { await sleep(50); return false; }
  }, { what: 'a place freed by a close' });
  for (const c of open) c.close();
});

test('a WebSocket whose peer sends nothing for ws_idle_timeout is closed 1000; heartbeats keep one open', { timeout: 30000 }, async () => {
  const idle = await startRtServer({ args: ['--ws-idle-timeout', '1s'] });
  try {
    const tok = tokenFor(idle, 'agent1@acme.test');
    const silent = await new RawClient(idle.wsUrl, tok).open();
    let reason = null;
    silent.ws.on('close', (_code, r) => { reason = r.toString(); });
    assert.equal((await silent.join('realtime:quiet')).payload.status, 'ok');
    const beating = await new RawClient(idle.wsUrl, tok).open();
    assert.equal((await beating.join('realtime:quiet')).payload.status, 'ok');
    const t0 = Date.now();
    let beats = 0;
    const timer = setInterval(() => { beating.send('phoenix', 'heartbeat'); beats++; }, 300);
    try {
      await until(() => silent.closeCode !== null, { timeoutMs: 6000, what: 'the idle close' });
      const waited = Date.now() - t0;
      assert.equal(silent.closeCode, 1000);
      assert.equal(reason, 'idle timeout');
      assert.ok(waited >= 700, `closed after ${waited} ms, before the timeout`);
      await sleep(1500); // past the timeout again for the beating one
    } finally {
      clearInterval(timer);
    }
    assert.equal(beating.closeCode, null, 'heartbeats keep the connection open');
    assert.ok(beating.events('phx_reply', 'phoenix').length >= beats - 2, 'heartbeats answered');
    const again = await new RawClient(idle.wsUrl, tok).open();
    assert.equal((await again.join('realtime:quiet')).payload.status, 'ok', 'the server keeps serving');
    for (const c of [beating, again]) c.close();
  } finally {
    await idle.cleanup();
  }
});
