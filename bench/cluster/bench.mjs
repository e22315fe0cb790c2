// Cross-node broadcast over the PostgreSQL cluster bus, against the same-node path measured in
// the same run (bench/cluster/run.sh starts PostgreSQL and two nodes, then runs this).
//
// usage: node bench.mjs URL_A URL_B [COUNT] [RATE]
//   URL_A, URL_B  http://127.0.0.1:PORT of two switchboard nodes on one database
//   COUNT         broadcasts per phase (default 20000)
//   RATE          broadcasts per second in the latency phase (default 2000)
//
// One sender on node A and two receivers, one on A (same node) and one on B (cross-node), all
// raw Phoenix vsn 1.0.0 sockets of one tenant on realtime:bench. Phase 1 (throughput): the
// sender writes COUNT broadcasts as fast as the socket takes them; each receiver reports
// messages/s from the first to the last message it got. Phase 2 (latency): COUNT broadcasts at
// RATE/s, each carrying its send time (this process's monotonic clock, which every socket
// shares); each receiver reports p50/p99/max of send -> receive. Every wait is bounded.
import WebSocket from 'ws';

const [urlA, urlB] = process.argv.slice(2, 4);
const COUNT = Number(process.argv[4] || 20000);
const RATE = Number(process.argv[5] || 2000);
if (!urlA || !urlB) {
  console.error('usage: node bench.mjs URL_A URL_B [COUNT] [RATE]');
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function login(url, email) {
  const r = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'demo-password' }),
  });
  if (r.status !== 200) throw new Error(`login ${email}: ${r.status}`);
  return (await r.json()).access_token;
}

function socket(url, token, onBroadcast) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${token}&vsn=1.0.0`);
    const timer = setTimeout(() => reject(new Error('join timed out')), 10000);
    ws.on('open', () => ws.send(JSON.stringify({ topic: 'realtime:bench', event: 'phx_join', ref: '1', join_ref: '1', payload: { config: {} } })));
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (m.event === 'phx_reply' && m.ref === '1') { clearTimeout(timer); resolve(ws); }
      if (m.event === 'broadcast') onBroadcast(m.payload.payload);
    });
    ws.on('error', reject);
    ws.on('close', (code) => { if (code !== 1000 && code !== 1005) console.error(`socket closed with ${code}`); });
  });
}

function receiver() {
  return { n: 0, first: 0, last: 0, lat: [], phase: '' };
}

function onMsg(r) {
  return (p) => {
    const t = now();
    if (p.phase !== r.phase) return;
    if (!r.n) r.first = t;
    r.n++;
    r.last = t;
    if (p.t) r.lat.push(t - p.t);
  };
}

async function waitAll(rs, n, ms) {
  const end = Date.now() + ms;
  while (rs.some((r) => r.n < n) && Date.now() < end) await sleep(50);
}

const pct = (a, q) => a[Math.min(a.length - 1, Math.floor(q * a.length))];

const tok = await login(urlA, 'agent1@acme.test');
const tok2 = await login(urlA, 'agent2@acme.test');
const tok3 = await login(urlA, 'agent3@acme.test');
const same = receiver();
const cross = receiver();
await socket(urlA, tok2, onMsg(same));
await socket(urlB, tok3, onMsg(cross));
const sender = await socket(urlA, tok, () => {});
await sleep(1000);

function send(i, phase, t) {
  sender.send(JSON.stringify({ topic: 'realtime:bench', event: 'broadcast', ref: null, join_ref: '1',
    payload: { type: 'broadcast', event: 'b', payload: { i, phase, t } } }));
}

// Phase 1: throughput.
same.phase = cross.phase = 'tput';
const t0 = now();
for (let i = 0; i < COUNT; i++) {
  send(i, 'tput', 0);
  if (sender.bufferedAmount > 4 << 20) await new Promise((r) => setImmediate(r));
}
await waitAll([same, cross], COUNT, 60000);
const rate = (r) => (r.n > 1 ? Math.round(r.n / ((r.last - t0) / 1000)) : 0);
console.log(`throughput: sent ${COUNT}; same-node got ${same.n} (${rate(same)} msg/s), ` +
  `cross-node got ${cross.n} (${rate(cross)} msg/s)`);
const tput = { same: rate(same), cross: rate(cross), sameN: same.n, crossN: cross.n };

// Phase 2: latency at RATE/s.
for (const r of [same, cross]) Object.assign(r, receiver(), { phase: 'lat' });
const start = now();
for (let i = 0; i < COUNT; i++) {
  const due = start + (i * 1000) / RATE;
  while (now() < due) await sleep(1);
  send(i, 'lat', now());
}
await waitAll([same, cross], COUNT, 60000);
const stats = (r) => {
  const a = r.lat.sort((x, y) => x - y);
  if (!a.length) return { n: 0, p50: 'n/a', p99: 'n/a', max: 'n/a' };
  return { n: a.length, p50: pct(a, 0.5).toFixed(2), p99: pct(a, 0.99).toFixed(2), max: a[a.length - 1].toFixed(2) };
};
const ls = stats(same);
const lc = stats(cross);
console.log(`latency at ${RATE}/s: same-node p50 ${ls.p50} p99 ${ls.p99} max ${ls.max} ms (${ls.n}); ` +
  `cross-node p50 ${lc.p50} p99 ${lc.p99} max ${lc.max} ms (${lc.n}); p99 difference ${(lc.p99 - ls.p99).toFixed(2)} ms`);
console.log(JSON.stringify({ count: COUNT, rate: RATE, throughput: tput, latency: { same: ls, cross: lc } }));
process.exit(0);
