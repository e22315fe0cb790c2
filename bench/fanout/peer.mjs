// Comparison peer for the realtime fan-out benchmark: a plain Node `ws` broadcast server that
// speaks just enough of the Phoenix vsn 1.0.0 protocol for bench/fanout/fanout (join -> ok
// reply echoing the postgres_changes bindings with ids, heartbeat -> ok reply, phx_leave) and
// broadcasts every published event to every joined socket as a `postgres_changes` frame of the
// same shape and about the same size as switchboard's agent_status UPDATE. A `broadcast` from a
// member goes to the topic's other members as {topic, event:"broadcast", payload, ref:null}.
//
// Publishing: POST /publish {"reason": "..."} -> 200 {"ok":true,"sent":N}. The frame is
// JSON-encoded once and the same string is sent to every joined socket (the usual `ws`
// broadcast idiom: wss.clients.forEach(c => c.send(msg))). Sockets idle for 60 s are closed,
// like switchboard.
//
// Usage: node peer.mjs [--port P] [--host 127.0.0.1]; prints "listening <port>" when ready.
import http from 'node:http';
import { createRequire } from 'node:module';

// createRequire so that NODE_PATH can point at a ws install outside this tree.
const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const host = opt('--host', '127.0.0.1');
const port = Number(opt('--port', '0'));
const IDLE_MS = 60_000;

// topic -> Set of sockets joined to it; every socket remembers its topics and binding ids.
const topics = new Map();
let seq = 0;
let nextBindingId = 1;
const bindingIds = new Map(); // JSON of a binding -> stable id (like phash2 of the params)

const agent = {
  id: '2f1d7a8e-6c1b-4f5e-9a53-0c7c5d2f9b11',
  client_id: '9b0c8a77-1d2e-4c3f-8a9b-5e6f7a8b9c0d',
  user_id: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
  display_name: 'Agent One',
  status: 'busy',
  reason: '',
  status_since: '',
  updated_by: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
  created_at: '2026-11-25T10:00:00.000Z',
  updated_at: '',
  version: 1,
};
const columns = [
  { name: 'id', type: 'uuid' },
  { name: 'client_id', type: 'uuid' },
  { name: 'user_id', type: 'uuid' },
  { name: 'display_name', type: 'text' },
  { name: 'status', type: 'text' },
  { name: 'reason', type: 'text' },
  { name: 'status_since', type: 'timestamptz' },
  { name: 'updated_by', type: 'uuid' },
  { name: 'created_at', type: 'timestamptz' },
  { name: 'updated_at', type: 'timestamptz' },
  { name: 'version', type: 'int8' },
];

function reply(ws, msg, status, response) {
  ws.send(JSON.stringify({ topic: msg.topic, event: 'phx_reply', payload: { status, response }, ref: msg.ref ?? null }));
}

function onMessage(ws, data) {
  let msg;
  try {
    msg = JSON.parse(data.toString());
  } catch {
    ws.close(1007, 'bad json');
    return;
  }
  if (!msg || typeof msg !== 'object' || typeof msg.topic !== 'string') {
    ws.close(1002, 'bad frame');
    return;
  }
  if (msg.topic === 'phoenix' && msg.event === 'heartbeat') {
    reply(ws, msg, 'ok', {});
    return;
  }
  if (msg.event === 'phx_join') {
    const pc = msg.payload?.config?.postgres_changes ?? [];
    const echoed = pc.map((b) => {
      const key = JSON.stringify(b);
      if (!bindingIds.has(key)) bindingIds.set(key, nextBindingId++);
      return { ...b, id: bindingIds.get(key) };
    });
    let set = topics.get(msg.topic);
    if (!set) topics.set(msg.topic, (set = new Set()));
    set.add(ws);
    ws.joined.set(msg.topic, echoed.map((b) => b.id));
    reply(ws, msg, 'ok', { postgres_changes: echoed });
    return;
  }
  if (msg.event === 'phx_leave') {
    topics.get(msg.topic)?.delete(ws);
    ws.joined.delete(msg.topic);
    reply(ws, msg, 'ok', {});
    return;
  }
  if (!ws.joined.has(msg.topic)) {
    reply(ws, msg, 'error', { reason: 'unmatched topic' });
    return;
  }
  if (msg.event === 'broadcast') {
    // Encode once, send the same string to every other member (broadcast without self).
    const frame = JSON.stringify({ topic: msg.topic, event: 'broadcast', payload: msg.payload, ref: null });
    for (const other of topics.get(msg.topic) ?? []) {
      if (other !== ws && other.readyState === 1) other.send(frame);
    }
  }
}

function publish(reason) {
  const old = { ...agent };
  const now = new Date().toISOString();
  agent.reason = reason;
  agent.status_since = now;
  agent.updated_at = now;
  agent.version += 1;
  seq += 1;
  let sent = 0;
  for (const [topic, set] of topics) {
    if (set.size === 0) continue;
    const ids = [...set][0].joined.get(topic) ?? [];
    const frame = JSON.stringify({
      topic,
      event: 'postgres_changes',
      payload: {
        ids,
        data: {
          schema: 'public',
          table: 'agent_status',
          type: 'UPDATE',
          commit_timestamp: now,
          columns,
          record: { ...agent },
          old_record: old,
          errors: null,
          seq,
        },
      },
      ref: null,
    });
    for (const ws of set) {
      if (ws.readyState === 1) {
        ws.send(frame);
        sent++;
      }
    }
  }
  return sent;
}

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= 65536) chunks.push(c);
    });
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"bad json"}');
        return;
      }
      const sent = publish(String(body.reason ?? ''));
      const out = JSON.stringify({ ok: true, sent });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
      res.end(out);
    });
    return;
  }
  if (req.url === '/livez') {
    res.writeHead(200).end('ok');
    return;
  }
  res.writeHead(404).end();
});
server.keepAliveTimeout = 60_000;

const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20, perMessageDeflate: false });
server.on('upgrade', (req, socket, head) => {
  const path = (req.url || '').split('?')[0];
  if (!path.endsWith('/websocket')) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.joined = new Map();
    ws.lastSeen = Date.now();
    ws.on('message', (data) => {
      ws.lastSeen = Date.now();
      onMessage(ws, data);
    });
    ws.on('close', () => {
      for (const t of ws.joined.keys()) topics.get(t)?.delete(ws);
    });
    ws.on('error', () => {});
  });
});

// Idle sweep: close sockets that sent nothing for 60 s.
setInterval(() => {
  const limit = Date.now() - IDLE_MS;
  for (const ws of wss.clients) {
    if (ws.lastSeen < limit) ws.close(1000, 'idle');
  }
}, 5_000).unref();

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const ws of wss.clients) ws.terminate();
    server.close();
    process.exit(0);
  });
}

server.listen(port, host, () => {
  console.log(`listening ${server.address().port}`);
});
