// The RFC 6455 conformance suite (lib/wsconf.mjs, proven against a reference peer in
// ws_conformance_peer.test.mjs) pointed at switchboard's realtime endpoint, authenticated
// with an access token, serializer vsn 1.0.0, probing with Phoenix heartbeats.
import { after, before } from 'node:test';

import { startRtServer, tokenFor } from './lib/rt_helpers.mjs';
import { phoenixHeartbeatProbe, runConformance } from './lib/wsconf.mjs';

let server;
let token;

before(async () => {
  server = await startRtServer();
  token = tokenFor(server, 'admin@acme.test', { ttlS: 3600 });
});

after(async () => {
  await server?.cleanup();
});

runConformance({
  url: () => `${server.wsUrl}/websocket?apikey=${encodeURIComponent(token)}`,
  probe: phoenixHeartbeatProbe('7'),
  query: '&vsn=1.0.0',
  name: 'switchboard',
});
