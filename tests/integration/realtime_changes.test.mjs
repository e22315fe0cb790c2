// postgres_changes through unchanged realtime-js clients (vsn 2: 2.109.0, vsn 1: 2.90.1):
// subscribe, a direct SQL write, the event with the right eventType, new, old and typed
// values; filters; hidden columns; join protocol details with a raw client.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { RealtimeClient } from '@supabase/realtime-js';
import { RealtimeClient as RealtimeClientV1 } from 'realtime-js-v1';
import WebSocket from 'ws';

import { RawClient, clientId, sleep, sql, startRtServer, tokenFor, until } from './lib/rt_helpers.mjs';

let server;

before(async () => {
  server = await startRtServer({ args: ['--max-channels', '5'] });
});
after(async () => {
  await server?.cleanup();
});

function subscribe(Client, token, topic, bindings, extra = {}) {
  const client = new Client(server.wsUrl, { params: { apikey: token }, transport: WebSocket, ...extra });
  const got = [];
  const system = [];
  let ch = client.channel(topic);
  for (const b of bindings) {
    ch = ch.on('postgres_changes', b, (p) => got.push({ ...p, binding: b }));
  }
  ch = ch.on('system', {}, (p) => system.push(p));
  const subscribed = new Promise((resolve, reject) => {
    ch.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') resolve();
      if (status === 'CHANNEL_ERROR') reject(err || new Error(status));
    });
  });
  return { client, ch, got, system, subscribed };
}

function agentOf(email) {
  return sql(server, `SELECT a.* FROM agent_status a JOIN users u ON u.id = a.user_id WHERE u.email = '${email}'`)[0];
}

for (const [name, Client] of [['vsn 2 (2.109.0)', RealtimeClient], ['vsn 1 (2.90.1)', RealtimeClientV1]]) {
  test(`${name}: UPDATE arrives with eventType, new, old and typed values`, { timeout: 20000 }, async () => {
    const token = tokenFor(server, 'admin@acme.test');
    const s = subscribe(Client, token, `changes-${name}`, [{ event: 'UPDATE', schema: 'public', table: 'agent_status' }]);
    await s.subscribed;
    const a = agentOf('agent1@acme.test');
    const next = a.status === 'busy' ? 'away' : 'busy';
    sql(server, `UPDATE agent_status SET status='${next}', reason='lunch', version=version+1 WHERE id='${a.id}'`);
    await until(() => s.got.length >= 1, { timeoutMs: 5000, what: 'the change' });
    const p = s.got[0];
    assert.equal(p.eventType, 'UPDATE');
    assert.equal(p.schema, 'public');
    assert.equal(p.table, 'agent_status');
    assert.equal(p.new.id, a.id);
    assert.equal(p.new.status, next);
    assert.equal(p.new.reason, 'lunch');
    assert.equal(p.new.version, a.version + 1);
    assert.equal(typeof p.new.version, 'number');
    assert.equal(p.old.status, a.status);
    assert.match(p.commit_timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(p.errors, null);
    assert.ok(s.system.some((m) => m.message === 'Subscribed to PostgreSQL'));
    s.client.removeAllChannels();
    s.client.disconnect();
  });

  test(`${name}: filters select rows (eq, in, AND) and INSERT/DELETE shapes`, { timeout: 20000 }, async () => {
    const token = tokenFor(server, 'admin@acme.test');
    const acme = clientId(server, 'acme');
    const s = subscribe(Client, token, `filters-${name}`, [
      { event: '*', schema: 'public', table: 'system_messages', filter: 'priority=eq.critical' },
      { event: 'INSERT', schema: 'public', table: 'system_messages', filter: 'priority=in.(low,high),title=eq.pick-me' },
      { event: 'DELETE', schema: 'public', table: 'system_messages' },
    ]);
    await s.subscribed;
    const id1 = crypto.randomUUID();
    const id2 = crypto.randomUUID();
    const id3 = crypto.randomUUID();
    sql(server, `INSERT INTO system_messages (id, client_id, title, body, priority, state) VALUES
      ('${id1}', '${acme}', 'crit', 'b', 'critical', 'active'),
      ('${id2}', '${acme}', 'pick-me', 'b', 'high', 'active'),
      ('${id3}', '${acme}', 'other', 'b', 'high', 'active')`);
    sql(server, `DELETE FROM system_messages WHERE id = '${id3}'`);
    await until(() => s.got.length >= 3, { what: 'three events' });
    await sleep(300);
    const ins = s.got.filter((p) => p.eventType === 'INSERT').map((p) => p.new.id).sort();
    assert.deepEqual(ins, [id1, id2].sort());
    const del = s.got.filter((p) => p.eventType === 'DELETE');
    assert.equal(del.length, 1);
    assert.equal(del[0].old.id, id3);
    assert.deepEqual(del[0].new, {});
    assert.equal(s.got.length, 3);
    s.client.removeAllChannels();
    s.client.disconnect();
  });
}

test('users events never carry password hashes; tenant-scoped for admins', { timeout: 20000 }, async () => {
  const c = await new RawClient(server.wsUrl, tokenFor(server, 'admin@acme.test')).open();
  const r = await c.join('realtime:users', { postgres_changes: [{ event: '*', schema: 'public', table: 'users' }] });
  assert.equal(r.payload.status, 'ok');
  assert.equal(r.payload.response.postgres_changes[0].id > 0, true);
  sql(server, "UPDATE users SET name = 'Agent One', version = version + 1 WHERE email = 'agent1@acme.test'");
  sql(server, "UPDATE users SET name = 'Globex One', version = version + 1 WHERE email = 'agent1@globex.test'");
  const ev = await until(() => c.events('postgres_changes')[0], { what: 'users event' });
  await sleep(1500);
  assert.equal(c.events('postgres_changes').length, 1);
  assert.equal(ev.payload.data.record.email, 'agent1@acme.test');
  const text = JSON.stringify(c.msgs);
  assert.ok(!/password/.test(text), 'no password material');
  assert.ok(ev.payload.data.columns.every((col) => col.name !== 'password_hash'));
  assert.equal(typeof ev.payload.data.seq, 'number');
  assert.deepEqual(ev.payload.ids, [r.payload.response.postgres_changes[0].id]);
  c.close();
});

test('binding ids depend on the spec: equal across sockets, distinct within a channel, a repeated spec shares its twin\'s id', { timeout: 20000 }, async () => {
  // Like the real server's phash2(params): subscribers with the same binding get the same id,
  // so a change is one frame for all of them (fanout.c shares it per topic and ids).
  const token = tokenFor(server, 'admin@acme.test');
  const specs = [
    { event: 'UPDATE', schema: 'public', table: 'agent_status' },
    { event: '*', schema: 'public', table: 'agent_status' },
    { event: 'UPDATE', schema: 'public', table: 'agent_status' },
  ];
  const subs = [];
  for (const vsn of ['1.0.0', '2.0.0']) {
    const c = await new RawClient(server.wsUrl, token, { vsn }).open();
    const r = await c.join('realtime:ids', { postgres_changes: specs });
    assert.equal(r.payload.status, 'ok');
    subs.push({ c, ids: r.payload.response.postgres_changes.map((b) => b.id) });
  }
  const [a, b] = subs;
  assert.deepEqual(a.ids, b.ids, 'the same specs give the same ids on every socket');
  for (const id of a.ids) assert.ok(Number.isInteger(id) && id > 0 && id < 2 ** 27, `id ${id}`);
  assert.notEqual(a.ids[0], a.ids[1], 'different specs, different ids');
  assert.equal(a.ids[2], a.ids[0], 'a repeated spec shares its twin\'s id');
  const agent = agentOf('agent2@acme.test');
  const next = agent.status === 'busy' ? 'away' : 'busy';
  sql(server, `UPDATE agent_status SET status='${next}', version=version+1 WHERE id='${agent.id}'`);
  for (const { c, ids } of subs) {
    const ev = await until(() => c.events('postgres_changes')[0], { what: 'the change' });
    // Each matching binding's id once: the repeated spec is covered by its twin's.
    assert.deepEqual(ev.payload.ids, [ids[0], ids[1]]);
    assert.equal(ev.payload.data.record.id, agent.id);
  }
  await sleep(300);
  for (const { c } of subs) {
    assert.equal(c.events('postgres_changes').length, 1);
    c.close();
  }
});

test('a change larger than the loop\'s 64 KiB scratch arrives whole to every subscriber (vsn 1 and 2)', { timeout: 20000 }, async () => {
  // The frame of a change is built once per (serializer, topic, ids) and shared; it must not
  // go through a bounded scratch buffer (a 100 KiB row was dropped silently when it did).
  const token = tokenFor(server, 'admin@acme.test');
  const subs = [];
  for (const vsn of ['1.0.0', '2.0.0', '2.0.0']) {
    const c = await new RawClient(server.wsUrl, token, { vsn }).open();
    const r = await c.join('realtime:big', { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'system_messages' }] });
    assert.equal(r.payload.status, 'ok');
    subs.push(c);
  }
  const acme = clientId(server, 'acme');
  const body = 'y'.repeat(100 * 1024);
  const id = crypto.randomUUID();
  sql(server, `INSERT INTO system_messages (id, client_id, title, body, priority, state) VALUES ('${id}', '${acme}', 'big', '${body}', 'normal', 'active')`);
  for (const c of subs) {
    const ev = await until(() => c.events('postgres_changes')[0], { timeoutMs: 10000, what: `the big change (vsn ${c.vsn})` });
    assert.equal(ev.payload.data.record.id, id);
    assert.equal(ev.payload.data.record.body, body);
  }
  for (const c of subs) c.close();
});

test('upgrade without or with a bad apikey is refused with 401', async () => {
  for (const q of ['', '?apikey=not-a-token', `?apikey=${tokenFor(server, 'admin@acme.test', { ttlS: -120 })}`]) {
    const res = await new Promise((resolve, reject) => {
      const req = http.get(`${server.url}/realtime/v1/websocket${q}`, {
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('upgrade', (r, sock) => { sock.destroy(); resolve({ status: 101, body: '' }); });
      req.on('response', (r) => {
        let body = '';
        r.on('data', (d) => { body += d; });
        r.on('end', () => resolve({ status: r.statusCode, body }));
      });
      req.on('error', reject);
    });
    assert.equal(res.status, 401, q);
    assert.equal(JSON.parse(res.body).error.code, 'unauthorized');
    assert.ok(!res.body.includes('eyJ'), 'the token is not echoed');
  }
});

for (const vsn of ['1.0.0', '2.0.0']) {
  test(`raw ${vsn}: heartbeat, unmatched topic, bad topic, duplicate join, bad filter, channel limit, leave`, { timeout: 20000 }, async () => {
    const c = await new RawClient(server.wsUrl, tokenFor(server, 'viewer@acme.test'), { vsn }).open();
    const hb = c.send('phoenix', 'heartbeat', {});
    const hr = await c.reply(hb);
    assert.deepEqual(hr.payload, { status: 'ok', response: {} });
    assert.equal(hr.topic, 'phoenix');

    const um = c.send('realtime:nope', 'broadcast', { type: 'broadcast', event: 'x', payload: {} });
    assert.deepEqual((await c.reply(um)).payload, { status: 'error', response: { reason: 'unmatched topic' } });

    const empty = await c.join('realtime:');
    assert.equal(empty.payload.status, 'error');

    const j1 = await c.join('realtime:dup');
    assert.equal(j1.payload.status, 'ok');
    const j2 = await c.join('realtime:dup');
    assert.equal(j2.payload.status, 'ok');
    const closeMsg = c.msgs.find((m) => m.event === 'phx_close' && m.topic === 'realtime:dup');
    assert.ok(closeMsg, 'old channel closed');
    assert.equal(closeMsg.ref, j1.ref);

    const bad = await c.join('realtime:badfilter', { postgres_changes: [{ event: '*', schema: 'public', table: 'agent_status', filter: 'nosuch=eq.1' }] });
    assert.equal(bad.payload.status, 'ok');
    assert.equal(bad.payload.response.postgres_changes[0].filter, 'nosuch=eq.1');
    const sys = await until(() => c.msgs.find((m) => m.event === 'system' && m.topic === 'realtime:badfilter'));
    assert.equal(sys.payload.status, 'error');
    assert.match(sys.payload.message, /filter/);

    for (let i = 0; i < 3; i++) assert.equal((await c.join(`realtime:n${i}`)).payload.status, 'ok');
    const over = await c.join('realtime:toomany');
    assert.deepEqual(over.payload, { status: 'error', response: { reason: 'too many channels' } });

    const lv = c.send('realtime:n0', 'phx_leave', {}, null);
    assert.equal((await c.reply(lv)).payload.status, 'ok');
    await until(() => c.msgs.find((m) => m.event === 'phx_close' && m.topic === 'realtime:n0'));
    assert.equal((await c.join('realtime:again')).payload.status, 'ok');
    c.close();
  });
}
