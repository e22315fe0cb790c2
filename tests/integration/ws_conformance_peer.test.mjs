// Proves the conformance suite (lib/wsconf.mjs) against a reference implementation: a tiny
// `ws` server on 127.0.0.1 (port 0, maxPayload 1 MiB) that answers Phoenix heartbeats
// (vsn 1.0.0 object form) and ignores everything else. Every case must pass here before the
// same suite is pointed at switchboard.

import { after, before } from 'node:test';
import { WebSocketServer } from 'ws';

import { phoenixHeartbeatProbe, runConformance } from './lib/wsconf.mjs';

let wss;
let url;

before(async () => {
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: 1 << 20 });
  wss.on('connection', (ws) => {
    ws.on('error', () => {}); // protocol errors are the point of the suite
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg;
      try {
        msg = JSON.parse(data.toString('utf8'));
      } catch {
        return;
      }
      if (msg && msg.topic === 'phoenix' && msg.event === 'heartbeat') {
        ws.send(JSON.stringify({
          topic: 'phoenix',
          event: 'phx_reply',
          payload: { status: 'ok', response: {} },
          ref: msg.ref,
        }));
      }
    });
  });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  url = `ws://127.0.0.1:${wss.address().port}/socket/websocket`;
});

after(async () => {
  for (const client of wss.clients) client.terminate();
  await new Promise((resolve) => wss.close(resolve));
});

runConformance({
  url: () => url,
  probe: phoenixHeartbeatProbe('42'),
  query: '?vsn=1.0.0',
  name: 'ws peer',
});
