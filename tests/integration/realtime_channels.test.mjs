// Broadcast (ack, self, tenant scoping), presence (state, join, leave on untrack and on
// disconnect), access_token refresh, and channel close on token expiry and revocation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { RealtimeClient } from '@supabase/realtime-js';
import { RealtimeClient as RealtimeClientV1 } from 'realtime-js-v1';
import WebSocket from 'ws';

import { RawClient, sleep, sql, startRtServer, tokenFor, until } from './lib/rt_helpers.mjs';

let server;

before(async () => {
  server = await startRtServer();
});
after(async () => {
  await server?.cleanup();
});

function client(Client, email) {
  return new Client(server.wsUrl, { params: { apikey: tokenFor(server, email) }, transport: WebSocket });
}

function subscribed(ch) {
  return new Promise((resolve, reject) => {
    ch.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') resolve();
      if (status === 'CHANNEL_ERROR') reject(err || new Error(status));
    });
  });
}

for (const [name, Client] of [['vsn 2', RealtimeClient], ['vsn 1', RealtimeClientV1]]) {
  test(`${name}: broadcast with ack and self, scoped to the tenant`, { timeout: 20000 }, async () => {
    const a = client(Client, 'agent1@acme.test');
    const b = client(RealtimeClient, 'agent2@acme.test');
    const b1 = client(RealtimeClientV1, 'agent4@acme.test');
    const g = client(Client, 'agent1@globex.test');
    const got = { a: [], b: [], b1: [], g: [] };
    const topic = `room-${name.replace(' ', '')}`;
    const ca = a.channel(topic, { config: { broadcast: { self: true, ack: true } } })
      .on('broadcast', { event: 'chat' }, (p) => got.a.push(p));
    const cb = b.channel(topic).on('broadcast', { event: 'chat' }, (p) => got.b.push(p));
    const cb1 = b1.channel(topic).on('broadcast', { event: 'chat' }, (p) => got.b1.push(p));
    const cg = g.channel(topic).on('broadcast', { event: 'chat' }, (p) => got.g.push(p));
    await Promise.all([subscribed(ca), subscribed(cb), subscribed(cb1), subscribed(cg)]);
    const r = await ca.send({ type: 'broadcast', event: 'chat', payload: { text: 'hi', n: 1 } });
    assert.equal(r, 'ok');
    await until(() => got.a.length && got.b.length && got.b1.length, { what: 'broadcast delivery' });
    await sleep(300);
    assert.deepEqual(got.b[0].payload, { text: 'hi', n: 1 });
    assert.deepEqual(got.b1[0].payload, { text: 'hi', n: 1 });
    assert.equal(got.a.length, 1, 'self:true delivers to the sender once');
    assert.equal(got.g.length, 0, 'another tenant on the same topic name sees nothing');
    // self:false (b's default): b does not get its own message.
    await cb.send({ type: 'broadcast', event: 'chat', payload: { from: 'b' } });
    await until(() => got.a.length === 2, { what: 'b -> a' });
    await sleep(200);
    assert.equal(got.b.length, 1);
    for (const c of [a, b, b1, g]) { c.removeAllChannels(); c.disconnect(); }
  });

  test(`${name}: presence state, join, leave on untrack and on disconnect`, { timeout: 20000 }, async () => {
    const a = client(Client, 'agent1@acme.test');
    const b = client(Client, 'agent2@acme.test');
    const topic = `presence-${name.replace(' ', '')}`;
    const events = [];
    const ca = a.channel(topic, { config: { presence: { key: 'alice' } } })
      .on('presence', { event: 'sync' }, () => events.push({ e: 'sync', state: ca.presenceState() }))
      .on('presence', { event: 'join' }, (p) => events.push({ e: 'join', key: p.key }))
      .on('presence', { event: 'leave' }, (p) => events.push({ e: 'leave', key: p.key }));
    await subscribed(ca);
    assert.equal(await ca.track({ name: 'Alice' }), 'ok');
    const cb = b.channel(topic, { config: { presence: { key: 'bob' } } }).on('presence', { event: 'sync' }, () => {});
    await subscribed(cb);
    await until(() => cb.presenceState().alice, { what: 'bob sees alice from presence_state' });
    assert.equal(cb.presenceState().alice[0].name, 'Alice');
    assert.equal(await cb.track({ name: 'Bob' }), 'ok');
    await until(() => ca.presenceState().bob, { what: 'alice sees bob join' });
    assert.ok(events.some((e) => e.e === 'join' && e.key === 'bob'));
    await cb.untrack();
    await until(() => !ca.presenceState().bob, { what: 'bob untracked' });
    assert.ok(events.some((e) => e.e === 'leave' && e.key === 'bob'));
    await cb.track({ name: 'Bob again' });
    await until(() => ca.presenceState().bob, { what: 'bob back' });
    b.disconnect();
    await until(() => !ca.presenceState().bob, { what: 'bob gone after disconnect' });
    a.removeAllChannels();
    a.disconnect();
  });
}

test('vsn 2 binary broadcast without ack reaches vsn 1 and vsn 2 raw subscribers', { timeout: 20000 }, async () => {
  const tok = tokenFor(server, 'admin@acme.test');
  const r1 = await new RawClient(server.wsUrl, tok, { vsn: '1.0.0' }).open();
  const r2 = await new RawClient(server.wsUrl, tok, { vsn: '2.0.0' }).open();
  await r1.join('realtime:bin');
  await r2.join('realtime:bin');
  const a = client(RealtimeClient, 'agent3@acme.test');
  const ca = a.channel('bin');
  await subscribed(ca);
  assert.equal(await ca.send({ type: 'broadcast', event: 'ping', payload: { v: 42 } }), 'ok');
  const m1 = await until(() => r1.events('broadcast')[0]);
  const m2 = await until(() => r2.events('broadcast')[0]);
  assert.deepEqual(m1.payload, { type: 'broadcast', event: 'ping', payload: { v: 42 } });
  assert.deepEqual(m2.payload, m1.payload);
  r1.close();
  r2.close();
  a.disconnect();
});

test('access_token refresh keeps the channel; an invalid one closes it with a system error', { timeout: 20000 }, async () => {
  const c = await new RawClient(server.wsUrl, tokenFor(server, 'viewer@acme.test'), { vsn: '2.0.0' }).open();
  const j = await c.join('realtime:tok', { postgres_changes: [{ event: '*', schema: 'public', table: 'agent_status' }] });
  c.send('realtime:tok', 'access_token', { access_token: tokenFor(server, 'viewer@acme.test', { ttlS: 600 }) }, j.ref);
  await sleep(300);
  assert.equal(c.events('phx_close', 'realtime:tok').length, 0);
  c.send('realtime:tok', 'access_token', { access_token: 'garbage.token.here' }, j.ref);
  const sys = await until(() => c.msgs.find((m) => m.event === 'system' && m.payload.extension === 'system'));
  assert.equal(sys.payload.status, 'error');
  const cl = await until(() => c.events('phx_close', 'realtime:tok')[0]);
  assert.equal(cl.ref, j.ref);
  c.close();
});

test('token expiry closes the channel with a system error within a second', { timeout: 20000 }, async () => {
  const short = tokenFor(server, 'viewer@acme.test', { ttlS: 3 });
  const c = await new RawClient(server.wsUrl, tokenFor(server, 'viewer@acme.test')).open();
  const j = await c.join('realtime:exp', {}, { access_token: short });
  assert.equal(j.payload.status, 'ok');
  const expAt = JSON.parse(Buffer.from(short.split('.')[1], 'base64url')).exp * 1000;
  const sys = await until(() => c.msgs.find((m) => m.event === 'system'), { timeoutMs: 8000 });
  const lateMs = Date.now() - expAt;
  assert.ok(lateMs < 1500, `closed ${lateMs} ms after expiry`);
  assert.match(sys.payload.message, /^Token has expired \d+ seconds ago$/);
  assert.equal(sys.payload.extension, 'system');
  await until(() => c.events('phx_close', 'realtime:exp')[0]);
  c.close();
});

test('realtime-js sees the expiry as system error then CLOSED', { timeout: 20000 }, async () => {
  const rc = new RealtimeClient(server.wsUrl, { params: { apikey: tokenFor(server, 'viewer@acme.test') }, transport: WebSocket });
  rc.setAuth(tokenFor(server, 'viewer@acme.test', { ttlS: 2 }));
  const seen = [];
  const ch = rc.channel('exp2').on('system', {}, (p) => seen.push(p.message));
  const closed = new Promise((resolve) => ch.subscribe((s) => { if (s === 'CLOSED') resolve(); }));
  await closed;
  assert.ok(seen.some((m) => /Token has expired/.test(m)), JSON.stringify(seen));
  rc.disconnect();
});

test('disabling the user closes its channels within about a second (direct SQL)', { timeout: 20000 }, async () => {
  const c = await new RawClient(server.wsUrl, tokenFor(server, 'agent5@acme.test')).open();
  assert.equal((await c.join('realtime:rev')).payload.status, 'ok');
  const t0 = Date.now();
  sql(server, "UPDATE users SET status = 'disabled', version = version + 1 WHERE email = 'agent5@acme.test'");
  const sys = await until(() => c.msgs.find((m) => m.event === 'system'), { timeoutMs: 5000 });
  const ms = Date.now() - t0;
  // The hub tail (1 s) picks up the direct SQL write, the token check runs every 250 ms.
  assert.ok(ms < 2000, `closed after ${ms} ms`);
  assert.match(sys.payload.message, /revoked/);
  await until(() => c.events('phx_close', 'realtime:rev')[0]);
  sql(server, "UPDATE users SET status = 'active', version = version + 1 WHERE email = 'agent5@acme.test'");
  c.close();
});
