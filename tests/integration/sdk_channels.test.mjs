// libswitchboard broadcast and presence against the real server, with a real
// @supabase/realtime-js 2.109.0 client on the other side: SDK -> realtime-js and back,
// self:false / self:true, presence join / state / leave on untrack, leave and disconnect,
// re-track after a reconnect, tenant isolation on the same channel name (Acme vs Globex), and
// calls on a channel that was left (error codes, nothing reaches the server). Runs the C
// driver tests/sdk/sdk_channels.c, which prints one line per event and takes commands on stdin.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';

import { RealtimeClient } from '@supabase/realtime-js';
import WebSocket from 'ws';

import { login } from './lib/server.mjs';
import { startRtServer, tokenFor } from './lib/rt_helpers.mjs';

const BUILD = process.env.SB_BUILD_DIR || new URL('../../build', import.meta.url).pathname;
const DRIVER = join(BUILD, 'sdk_channels');
const SB_ERR_INVAL = -1;
const SB_ERR_CLOSED = -11;
// How long "nothing more arrives" is watched for after a positive marker was seen.
const SETTLE_MS = 500;

let srv;
const tok = {};
let live = []; // drivers and realtime-js clients of the running test, stopped by afterEach

before(async () => {
  srv = await startRtServer();
  for (const email of ['admin@acme.test', 'admin@globex.test', 'agent1@acme.test', 'agent1@globex.test']) {
    tok[email] = (await login(srv.url, email)).access_token;
  }
});
after(async () => { await srv?.cleanup(); });
afterEach(async () => {
  for (const x of live) {
    if (x.p) {
      if (x.p.exitCode === null && x.p.signalCode === null) x.p.kill('SIGKILL');
    } else {
      // Leave every channel (answered at once), then close; leaving on a closed socket
      // would leave 10 s push timers behind.
      if (x.isConnected()) await Promise.race([x.removeAllChannels(), sleep(2000)]);
      x.disconnect();
    }
  }
  live = [];
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(pred, ms, what, dump = () => '') {
  const end = Date.now() + ms;
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}\n${dump()}`);
    await sleep(20);
  }
}

// The C driver: `out` holds its stdout lines; run(cmd) writes a command and returns its RC.
function startDriver(token, channel, mode, key) {
  const args = [srv.url, token, channel, mode];
  if (key) args.push(key);
  const p = spawn(DRIVER, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const d = { p, out: [], err: '', exited: new Promise((r) => p.once('exit', (code, signal) => r({ code, signal }))) };
  let ob = '';
  p.stdout.on('data', (b) => { ob += b; const l = ob.split('\n'); ob = l.pop(); d.out.push(...l); });
  p.stderr.on('data', (b) => { d.err += b; });
  p.stdin.on('error', () => {}); // a driver that died is reported by the assertions, not EPIPE
  const dump = () => `driver ${channel} stdout:\n${d.out.join('\n')}\nstderr:\n${d.err}`;
  d.waitFor = (pred, what, ms = 10000) => until(() => pred(d), ms, what, dump);
  d.rcs = (cmd) => d.out.filter((l) => l.startsWith(`RC ${cmd} `)).map((l) => Number(l.split(' ')[2]));
  d.run = async (line) => {
    const cmd = line.split(' ')[0];
    const n = d.rcs(cmd).length;
    p.stdin.write(`${line}\n`);
    await d.waitFor((x) => x.rcs(cmd).length > n, `RC of "${line}"`);
    return d.rcs(cmd)[n];
  };
  d.bcs = () => d.out.filter((l) => l.startsWith('BC ')).map((l) => {
    const [, event, ...rest] = l.split(' ');
    return { event, payload: JSON.parse(rest.join(' ')) };
  });
  d.presence = (what) => d.out.filter((l) => l.startsWith(`PRESENCE_${what} `)).map((l) => {
    const [, key, ...rest] = l.split(' ');
    return { key, meta: JSON.parse(rest.join(' ')) };
  });
  // The driver's presence map after the last state or diff ({key: [metas]}), phx_ref dropped.
  d.sync = () => {
    const l = d.out.filter((x) => x.startsWith('PRESENCE_SYNC ')).pop();
    const s = l ? JSON.parse(l.slice('PRESENCE_SYNC '.length)) : {};
    return Object.fromEntries(Object.entries(s).map(([k, ms]) =>
      [k, ms.map(({ phx_ref, phx_ref_prev, ...m }) => m)]));
  };
  d.joined = (n = 1) => d.waitFor((x) => x.out.filter((l) => l.startsWith('CH joined')).length >= n, `join #${n}`);
  d.quit = async () => {
    p.stdin.write('quit\n');
    p.stdin.end();
    let timer;
    const r = await Promise.race([d.exited, new Promise((res) => { timer = setTimeout(() => res(null), 10000); })]);
    clearTimeout(timer);
    assert.ok(r, `driver did not exit\n${dump()}`);
    assert.deepEqual(r, { code: 0, signal: null }, dump());
    assert.doesNotMatch(d.err, /AddressSanitizer|LeakSanitizer|runtime error/, dump());
  };
  live.push(d);
  return d;
}

// A realtime-js 2.109.0 client on the channel; `got` collects broadcasts, `joins`/`leaves`
// presence events.
async function jsChannel(token, name, { self = false, key = '' } = {}) {
  const client = new RealtimeClient(srv.wsUrl, { params: { apikey: token }, transport: WebSocket });
  live.push(client);
  const r = { client, got: [], joins: [], leaves: [] };
  r.ch = client.channel(name, { config: { broadcast: { self }, presence: { key } } })
    .on('broadcast', { event: '*' }, (p) => r.got.push(p))
    .on('presence', { event: 'join' }, (p) => r.joins.push(p))
    .on('presence', { event: 'leave' }, (p) => r.leaves.push(p))
    .on('presence', { event: 'sync' }, () => {});
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`realtime-js: ${name} not subscribed in 10 s`)), 10000);
    r.ch.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') { clearTimeout(t); resolve(); }
      if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') { clearTimeout(t); reject(err || new Error(status)); }
    });
  });
  // presenceState() without the client's own bookkeeping field.
  r.state = () => Object.fromEntries(Object.entries(r.ch.presenceState()).map(([k, ms]) =>
    [k, ms.map(({ presence_ref, ...m }) => m)]));
  return r;
}

test('broadcast both ways; self:false does not echo to the sender', { timeout: 30000 }, async () => {
  const js = await jsChannel(tok['agent1@acme.test'], 'bc-both');
  const d = startDriver(tok['admin@acme.test'], 'bc-both', 'noself');
  await d.joined();

  assert.equal(await d.run('send greet {"text":"hi from C","n":1,"nested":{"ok":true}}'), 0);
  await until(() => js.got.length >= 1, 5000, 'realtime-js receives the SDK broadcast');
  assert.deepEqual(js.got, [{ type: 'broadcast', event: 'greet', payload: { text: 'hi from C', n: 1, nested: { ok: true } } }]);

  assert.equal(await js.ch.send({ type: 'broadcast', event: 'reply', payload: { from: 'js', list: [1, 2, 'três'] } }), 'ok');
  await d.waitFor((x) => x.bcs().length >= 1, 'the SDK prints the realtime-js broadcast');
  await sleep(SETTLE_MS);
  // Exactly the one broadcast from realtime-js: the SDK's own "greet" did not come back.
  assert.deepEqual(d.bcs(), [{ event: 'reply', payload: { from: 'js', list: [1, 2, 'três'] } }]);
  assert.equal(js.got.length, 1, 'realtime-js (self:false) does not get its own broadcast either');
  await d.quit();
});

test('self:true delivers the sender its own broadcast exactly once', { timeout: 30000 }, async () => {
  const js = await jsChannel(tok['agent1@acme.test'], 'bc-self');
  const d = startDriver(tok['admin@acme.test'], 'bc-self', 'self');
  await d.joined();
  assert.equal(await d.run('send echo {"k":"v"}'), 0);
  await d.waitFor((x) => x.bcs().length >= 1, 'the SDK gets its own broadcast');
  await until(() => js.got.length >= 1, 5000, 'realtime-js gets it');
  await sleep(SETTLE_MS);
  assert.deepEqual(d.bcs(), [{ event: 'echo', payload: { k: 'v' } }]);
  assert.deepEqual(js.got, [{ type: 'broadcast', event: 'echo', payload: { k: 'v' } }]);
  await d.quit();
});

test('SDK presence: track, untrack, leave, disconnect, re-track after reconnect', { timeout: 40000 }, async () => {
  const js = await jsChannel(tok['agent1@acme.test'], 'pres-sdk', { key: 'js-watcher' });
  const d = startDriver(tok['admin@acme.test'], 'pres-sdk', 'noself', 'sdk-user');
  await d.joined();
  await d.waitFor((x) => x.out.some((l) => l.startsWith('PRESENCE_STATE ')), 'presence_state after the join');
  assert.deepEqual(d.sync(), {}, 'nobody tracked yet');

  // track -> realtime-js sees the join with the meta, and its presenceState holds it
  assert.equal(await d.run('track {"name":"C SDK","n":7}'), 0);
  await until(() => js.joins.length >= 1, 5000, 'realtime-js sees the SDK join');
  assert.equal(js.joins[0].key, 'sdk-user');
  assert.equal(js.joins[0].newPresences.length, 1);
  assert.equal(js.joins[0].newPresences[0].name, 'C SDK');
  assert.equal(js.joins[0].newPresences[0].n, 7);
  assert.deepEqual(js.state(), { 'sdk-user': [{ name: 'C SDK', n: 7 }] });
  // the SDK sees its own presence through the diff too
  await d.waitFor((x) => x.presence('JOIN').length >= 1, 'the SDK sees its own join');
  assert.equal(d.presence('JOIN')[0].key, 'sdk-user');
  assert.equal(d.presence('JOIN')[0].meta.name, 'C SDK');
  assert.deepEqual(d.sync(), { 'sdk-user': [{ name: 'C SDK', n: 7 }] });

  // untrack -> leave
  assert.equal(await d.run('untrack'), 0);
  await until(() => js.leaves.length >= 1, 5000, 'realtime-js sees the untrack as a leave');
  assert.equal(js.leaves[0].key, 'sdk-user');
  assert.equal(js.leaves[0].leftPresences[0].name, 'C SDK');
  assert.deepEqual(js.state(), {});
  await d.waitFor((x) => x.presence('LEAVE').length >= 1, 'the SDK sees its own leave');
  assert.deepEqual(d.sync(), {});

  // track again, then leave the channel -> leave
  assert.equal(await d.run('track {"name":"again"}'), 0);
  await until(() => js.joins.length >= 2, 5000, 'second join');
  assert.deepEqual(js.state(), { 'sdk-user': [{ name: 'again' }] });
  assert.equal(await d.run('leave'), 0);
  await until(() => js.leaves.length >= 2, 5000, 'realtime-js sees the channel leave as a presence leave');
  assert.equal(js.leaves[1].key, 'sdk-user');
  assert.deepEqual(js.state(), {});

  // join again and track, then disconnect the client -> leave; reconnect -> tracked again
  assert.equal(await d.run('join'), 0);
  await d.joined(2);
  assert.equal(await d.run('track {"name":"third"}'), 0);
  await until(() => js.joins.length >= 3, 5000, 'third join');
  assert.deepEqual(js.state(), { 'sdk-user': [{ name: 'third' }] });
  assert.equal(await d.run('disconnect'), 0);
  await until(() => js.leaves.length >= 3, 5000, 'realtime-js sees the disconnect as a leave');
  assert.deepEqual(js.state(), {});
  assert.equal(await d.run('connect'), 0);
  await d.joined(3);
  await until(() => js.joins.length >= 4, 5000, 'the SDK re-tracks after the rejoin');
  assert.deepEqual(js.state(), { 'sdk-user': [{ name: 'third' }] });
  // the process ending (socket closed) is a leave too
  await d.quit();
  await until(() => js.leaves.length >= 4, 5000, 'realtime-js sees the process exit as a leave');
  assert.deepEqual(js.state(), {});
  assert.equal(js.joins.length, 4);
  assert.ok(js.joins.every((j) => j.key === 'sdk-user') && js.leaves.every((l) => l.key === 'sdk-user'));
});

test('realtime-js presence: the SDK sees state, join and leave', { timeout: 30000 }, async () => {
  const early = await jsChannel(tok['agent1@acme.test'], 'pres-js', { key: 'js-early' });
  assert.equal(await early.ch.track({ name: 'early' }), 'ok');
  await until(() => early.state()['js-early'], 5000, 'realtime-js sees its own track');

  const d = startDriver(tok['admin@acme.test'], 'pres-js', 'noself', 'sdk-quiet');
  await d.joined();
  // the member present before the join arrives in presence_state
  await d.waitFor((x) => x.presence('JOIN').length >= 1, 'js-early from presence_state');
  const state = d.out.find((l) => l.startsWith('PRESENCE_STATE '));
  assert.deepEqual(Object.keys(JSON.parse(state.slice('PRESENCE_STATE '.length))), ['js-early']);
  assert.deepEqual(d.presence('JOIN').map((j) => [j.key, j.meta.name]), [['js-early', 'early']]);
  assert.deepEqual(d.sync(), { 'js-early': [{ name: 'early' }] });

  // a realtime-js client tracking after the SDK joined: a diff join
  const late = await jsChannel(tok['agent1@acme.test'], 'pres-js', { key: 'js-late' });
  assert.equal(await late.ch.track({ name: 'late', tags: ['a', 'b'] }), 'ok');
  await d.waitFor((x) => x.presence('JOIN').length >= 2, 'js-late join');
  assert.equal(d.presence('JOIN')[1].key, 'js-late');
  assert.deepEqual(d.presence('JOIN')[1].meta.tags, ['a', 'b']);
  assert.deepEqual(d.sync(), { 'js-early': [{ name: 'early' }], 'js-late': [{ name: 'late', tags: ['a', 'b'] }] });

  // untrack and disconnect on the realtime-js side: two leaves
  await late.ch.untrack();
  await d.waitFor((x) => x.presence('LEAVE').length >= 1, 'js-late untrack');
  assert.equal(d.presence('LEAVE')[0].key, 'js-late');
  early.client.disconnect();
  await d.waitFor((x) => x.presence('LEAVE').length >= 2, 'js-early disconnect');
  assert.equal(d.presence('LEAVE')[1].key, 'js-early');
  assert.deepEqual(d.sync(), {});
  await d.quit();
});

test('two tenants on the same channel name never see each other', { timeout: 40000 }, async () => {
  const name = 'shared-room';
  const jsA = await jsChannel(tok['agent1@acme.test'], name, { key: 'js-acme' });
  const jsG = await jsChannel(tok['agent1@globex.test'], name, { key: 'js-globex' });
  const dA = startDriver(tok['admin@acme.test'], name, 'noself', 'sdk-acme');
  const dG = startDriver(tok['admin@globex.test'], name, 'noself', 'sdk-globex');
  await dA.joined();
  await dG.joined();

  assert.equal(await dA.run('send secret {"tenant":"acme"}'), 0);
  assert.equal(await dG.run('send secret {"tenant":"globex"}'), 0);
  assert.equal(await jsA.ch.send({ type: 'broadcast', event: 'hello', payload: { tenant: 'acme-js' } }), 'ok');
  assert.equal(await jsG.ch.send({ type: 'broadcast', event: 'hello', payload: { tenant: 'globex-js' } }), 'ok');
  assert.equal(await dA.run('track {"tenant":"acme"}'), 0);
  assert.equal(await dG.run('track {"tenant":"globex"}'), 0);
  assert.equal(await jsA.ch.track({ tenant: 'acme-js' }), 'ok');
  assert.equal(await jsG.ch.track({ tenant: 'globex-js' }), 'ok');

  // each side gets its own tenant's traffic...
  await until(() => jsA.got.length >= 1 && jsG.got.length >= 1, 5000, 'SDK broadcasts at realtime-js');
  await dA.waitFor((x) => x.bcs().length >= 1, 'acme SDK gets acme-js');
  await dG.waitFor((x) => x.bcs().length >= 1, 'globex SDK gets globex-js');
  await until(() => Object.keys(jsA.state()).length >= 2 && Object.keys(jsG.state()).length >= 2, 5000, 'presence at realtime-js');
  await dA.waitFor((x) => Object.keys(x.sync()).length >= 2, 'acme SDK presence');
  await dG.waitFor((x) => Object.keys(x.sync()).length >= 2, 'globex SDK presence');
  await sleep(SETTLE_MS);
  // ...and only that.
  assert.deepEqual(jsA.got, [{ type: 'broadcast', event: 'secret', payload: { tenant: 'acme' } }]);
  assert.deepEqual(jsG.got, [{ type: 'broadcast', event: 'secret', payload: { tenant: 'globex' } }]);
  assert.deepEqual(dA.bcs(), [{ event: 'hello', payload: { tenant: 'acme-js' } }]);
  assert.deepEqual(dG.bcs(), [{ event: 'hello', payload: { tenant: 'globex-js' } }]);
  assert.deepEqual(jsA.state(), { 'js-acme': [{ tenant: 'acme-js' }], 'sdk-acme': [{ tenant: 'acme' }] });
  assert.deepEqual(jsG.state(), { 'js-globex': [{ tenant: 'globex-js' }], 'sdk-globex': [{ tenant: 'globex' }] });
  assert.deepEqual(dA.sync(), { 'js-acme': [{ tenant: 'acme-js' }], 'sdk-acme': [{ tenant: 'acme' }] });
  assert.deepEqual(dG.sync(), { 'js-globex': [{ tenant: 'globex-js' }], 'sdk-globex': [{ tenant: 'globex' }] });
  for (const d of [dA, dG]) {
    assert.deepEqual([...new Set(d.presence('JOIN').map((j) => j.meta.tenant.split('-')[0]))],
      [d === dA ? 'acme' : 'globex'], 'presence joins only from the own tenant');
  }
  // the SDK leaving is seen only in its own tenant
  await dA.quit();
  await until(() => !jsA.state()['sdk-acme'], 5000, 'acme leave');
  await sleep(SETTLE_MS);
  assert.equal(jsG.leaves.length, 0);
  assert.deepEqual(Object.keys(jsG.state()).sort(), ['js-globex', 'sdk-globex']);
  await dG.quit();
});

test('bad input: calls on a channel that was left return errors and reach nobody', { timeout: 40000 }, async () => {
  const js = await jsChannel(tok['agent1@acme.test'], 'bad-input', { key: 'js-bad' });
  const d = startDriver(tok['admin@acme.test'], 'bad-input', 'noself', 'sdk-bad');
  await d.joined();

  // payloads that are not JSON objects
  assert.equal(await d.run('send ev [1,2]'), SB_ERR_INVAL);
  assert.equal(await d.run('send ev not json'), SB_ERR_INVAL);
  assert.equal(await d.run('send ev "str"'), SB_ERR_INVAL);
  assert.equal(await d.run('track [1]'), SB_ERR_INVAL);

  // not connected: the channel is kept but not joined
  assert.equal(await d.run('disconnect'), 0);
  assert.equal(await d.run('send ev {"offline":true}'), SB_ERR_CLOSED);
  assert.equal(await d.run('connect'), 0);
  await d.joined(2);

  // leaving from inside a callback: the handle is still valid there, every call fails
  assert.equal(await d.run('leave_on bye'), 0);
  assert.equal(await js.ch.send({ type: 'broadcast', event: 'bye', payload: {} }), 'ok');
  await d.waitFor((x) => x.rcs('cb_leave_again').length === 1, 'the callback ran');
  assert.deepEqual(['cb_leave', 'cb_send', 'cb_track', 'cb_untrack', 'cb_leave_again'].map((c) => d.rcs(c)),
    [[0], [SB_ERR_CLOSED], [SB_ERR_CLOSED], [SB_ERR_CLOSED], [SB_ERR_CLOSED]]);

  // after leaving from the loop the application has no handle any more
  assert.equal(await d.run('join'), 0);
  await d.joined(3);
  assert.equal(await d.run('leave'), 0);
  assert.equal(await d.run('send ev {"after":"leave"}'), SB_ERR_INVAL);
  assert.equal(await d.run('track {"after":"leave"}'), SB_ERR_INVAL);
  assert.equal(await d.run('untrack'), SB_ERR_INVAL);
  assert.equal(await d.run('leave'), SB_ERR_INVAL);

  // none of it reached realtime-js, and the driver still works
  assert.equal(await d.run('join'), 0);
  await d.joined(4);
  assert.equal(await d.run('send fine {"n":2}'), 0);
  await until(() => js.got.length >= 1, 5000, 'the good broadcast');
  await sleep(SETTLE_MS);
  assert.deepEqual(js.got, [{ type: 'broadcast', event: 'fine', payload: { n: 2 } }]);
  assert.equal(js.joins.filter((j) => j.key === 'sdk-bad').length, 0, 'no presence from a left channel');
  assert.ok(!d.out.some((l) => l.startsWith('CH error')), d.out.join('\n'));
  await d.quit();
});

test('a channel closed by the server (token expiry) refuses send and track', { timeout: 30000 }, async () => {
  const js = await jsChannel(tok['agent1@acme.test'], 'closed-by-server', { key: 'js-closed' });
  const d = startDriver(tokenFor(srv, 'admin@acme.test', { ttlS: 3 }), 'closed-by-server', 'noself', 'sdk-closed');
  await d.joined();
  assert.equal(await d.run('track {"short":"lived"}'), 0);
  await until(() => js.state()['sdk-closed'], 5000, 'tracked while the token is valid');
  await d.waitFor((x) => x.out.some((l) => l.startsWith('CH closed')), 'the server closes the channel at expiry', 10000);
  await until(() => !js.state()['sdk-closed'], 5000, 'presence gone with the channel');
  assert.equal(await d.run('send ev {"n":1}'), SB_ERR_CLOSED);
  assert.equal(await d.run('track {"n":2}'), SB_ERR_CLOSED);
  await sleep(SETTLE_MS);
  assert.deepEqual(js.got, []);
  assert.equal(js.joins.filter((j) => j.key === 'sdk-closed').length, 1);
  await d.quit();
});

test('no presence key: presence is on, the state arrives, the server picks the key; track while offline', { timeout: 30000 }, async () => {
  const js = await jsChannel(tok['agent1@acme.test'], 'pres-nokey', { key: 'js-here' });
  assert.equal(await js.ch.track({ name: 'here' }), 'ok');
  await until(() => js.state()['js-here'], 5000, 'realtime-js tracked');
  const d = startDriver(tok['admin@acme.test'], 'pres-nokey', 'noself', '-');
  await d.joined();
  await d.waitFor((x) => x.out.some((l) => l.startsWith('PRESENCE_STATE ')), 'presence_state without a key');
  assert.deepEqual(d.sync(), { 'js-here': [{ name: 'here' }] });

  // tracked while disconnected: remembered, sent once the channel is joined again
  assert.equal(await d.run('disconnect'), 0);
  assert.equal(await d.run('track {"name":"keyless"}'), 0);
  await sleep(SETTLE_MS);
  assert.equal(js.joins.filter((j) => j.key !== 'js-here').length, 0, 'nothing sent while disconnected');
  assert.equal(await d.run('connect'), 0);
  await d.joined(2);
  const j = await until(() => js.joins.find((x) => x.key !== 'js-here'), 5000, 'the keyless join');
  assert.match(j.key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a server-made UUID');
  assert.deepEqual(js.state()[j.key], [{ name: 'keyless' }]);
  await d.waitFor((x) => x.sync()[j.key], 'the SDK sees its own keyless presence');
  await d.quit();
});
