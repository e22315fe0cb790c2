// WebSocket conformance suite (RFC 6455), in the spirit of the Autobahn testsuite, for
// servers that do not echo. It talks raw TCP (node:net) so it can send what no WebSocket
// library would: it performs the HTTP upgrade itself, sends masked (or deliberately broken)
// frames and parses the server's frames byte by byte.
//
// Servers under test speak an application protocol, so liveness is checked with a probe:
// a text message the server answers and a predicate that recognises the answer. For Phoenix
// servers (switchboard, realtime) phoenixHeartbeatProbe() builds one from a heartbeat.
//
//   import { runConformance, phoenixHeartbeatProbe } from './lib/wsconf.mjs';
//   runConformance({ url: () => serverUrl, probe: phoenixHeartbeatProbe('7'),
//                    query: '?apikey=TOKEN&vsn=1.0.0' });
//
// runConformance registers one node:test test() per case; url may be a string or a function
// (sync or async) called when a case runs, so a server started in before() can be used.
// "Close with code X" means: the server sends a close frame whose first two bytes are X and
// then closes the TCP connection itself.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa };

// ---- frames ----

// Encode one frame. mask: true for a random client mask, false for none, or a 4-byte Buffer.
// rsv is the 3-bit RSV field (0..7); len overrides the announced payload length (only to
// build headers of huge frames without their payload).
export function encodeFrame({ fin = true, rsv = 0, opcode, payload = Buffer.alloc(0), mask = true }) {
  const data = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const key = mask === true ? randomBytes(4) : mask === false ? null : mask;
  const len = data.length;
  let hdr;
  if (len < 126) {
    hdr = Buffer.alloc(2);
    hdr[1] = len;
  } else if (len <= 0xffff) {
    hdr = Buffer.alloc(4);
    hdr[1] = 126;
    hdr.writeUInt16BE(len, 2);
  } else {
    hdr = Buffer.alloc(10);
    hdr[1] = 127;
    hdr.writeBigUInt64BE(BigInt(len), 2);
  }
  hdr[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!key) {
    return Buffer.concat([hdr, data]);
  }
  hdr[1] |= 0x80;
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    body[i] = data[i] ^ key[i & 3];
  }
  return Buffer.concat([hdr, key, body]);
}

export function closePayload(code, reason = Buffer.alloc(0)) {
  const r = Buffer.isBuffer(reason) ? reason : Buffer.from(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

// Parse as many complete frames as buf holds; returns { frames, rest }.
function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let len = b1 & 0x7f;
    let pos = off + 2;
    if (len === 126) {
      if (buf.length - pos < 2) break;
      len = buf.readUInt16BE(pos);
      pos += 2;
    } else if (len === 127) {
      if (buf.length - pos < 8) break;
      const big = buf.readBigUInt64BE(pos);
      if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('server frame length too large');
      len = Number(big);
      pos += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) {
      if (buf.length - pos < 4) break;
      key = buf.subarray(pos, pos + 4);
      pos += 4;
    }
    if (buf.length - pos < len) break;
    const payload = Buffer.from(buf.subarray(pos, pos + len));
    if (key) {
      for (let i = 0; i < len; i++) payload[i] ^= key[i & 3];
    }
    frames.push({ fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload });
    off = pos + len;
  }
  return { frames, rest: buf.subarray(off) };
}

// ---- connections ----

// A raw WebSocket connection after a successful upgrade: frames in, bytes out.
export class RawConnection {
  constructor(socket, leftover) {
    this.socket = socket;
    this.buf = Buffer.alloc(0);
    this.frames = [];
    this.closed = false;
    this.error = null;
    this.parseError = null;
    this.listeners = new Set();
    socket.on('data', (d) => this.#onData(d));
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', (e) => {
      this.error = e;
    });
    if (leftover.length) this.#onData(leftover);
  }

  #onData(d) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    try {
      const { frames, rest } = parseFrames(this.buf);
      this.frames.push(...frames);
      this.buf = rest;
    } catch (e) {
      this.parseError = e;
    }
    this.#wake();
  }

  #wake() {
    for (const fn of [...this.listeners]) fn();
  }

  // Resolve once pred() is true; reject after timeoutMs.
  waitFor(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const check = () => {
        let v;
        try {
          v = pred();
        } catch (e) {
          finish();
          reject(e);
          return;
        }
        if (v) {
          finish();
          resolve(v);
        }
      };
      const finish = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  // Write bytes; errors (the server may already have closed) are recorded, not thrown.
  write(bytes) {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(bytes, () => {});
  }

  send(frame) {
    this.write(encodeFrame(frame));
  }

  // The next frame from the server (in order); rejects on timeout or if the TCP connection
  // closes first. Server frames must be unmasked with RSV clear.
  async nextFrame(timeoutMs) {
    const frame = await this.waitFor(
      () => {
        if (this.parseError) throw this.parseError;
        if (this.frames.length) return this.frames.shift();
        if (this.closed) throw new Error('connection closed while waiting for a frame');
        return null;
      },
      timeoutMs,
      'a frame',
    );
    assert.equal(frame.masked, false, 'server frames must not be masked');
    assert.equal(frame.rsv, 0, 'server frames must have RSV bits clear (no extension)');
    return frame;
  }

  // Resolves when the server has closed the TCP connection.
  async waitClosed(timeoutMs) {
    await this.waitFor(() => this.closed, timeoutMs, 'the server to close the TCP connection');
  }

  destroy() {
    this.socket.destroy();
  }
}

function resolveUrl(url, query) {
  const u = new URL(url);
  if (query) {
    const q = query.startsWith('?') || query.startsWith('&') ? query.slice(1) : query;
    u.search = u.search ? `${u.search}&${q}` : `?${q}`;
  }
  return u;
}

// Send an upgrade request and read the HTTP response head. headers: object of header values;
// a value of null omits that header. Resolves { status, headers (lower-case keys), key, conn }
// where conn is a RawConnection when the status is 101, else the socket is destroyed.
export function handshake(url, { headers = {}, timeoutMs = 5000 } = {}) {
  const u = url instanceof URL ? url : new URL(url);
  if (u.protocol !== 'ws:' && u.protocol !== 'http:') {
    throw new Error(`wsconf talks plain TCP only, not ${u.protocol}`);
  }
  const key = randomBytes(16).toString('base64');
  const all = {
    Host: u.host,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  let req = `GET ${u.pathname}${u.search} HTTP/1.1\r\n`;
  for (const [k, v] of Object.entries(all)) {
    if (v !== null && v !== undefined) req += `${k}: ${v}\r\n`;
  }
  req += '\r\n';

  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: u.hostname, port: Number(u.port || 80) });
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`handshake timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err, value) => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.removeListener('error', onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else {
        resolve(value);
      }
    };
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > 65536) done(new Error('response head too large'));
        return;
      }
      const head = buf.subarray(0, end).toString('latin1').split('\r\n');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head[0]);
      if (!m) {
        done(new Error(`bad status line: ${head[0]}`));
        return;
      }
      const status = Number(m[1]);
      const hdrs = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i <= 0) continue;
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        hdrs[name] = name in hdrs ? `${hdrs[name]}, ${value}` : value;
      }
      const leftover = buf.subarray(end + 4);
      if (status === 101) {
        const conn = new RawConnection(socket, leftover);
        done(null, { status, headers: hdrs, key, conn });
      } else {
        socket.destroy();
        done(null, { status, headers: hdrs, key, conn: null });
      }
    };
    const onClose = () => done(new Error('connection closed before the response head'));
    const onError = (e) => done(e);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', onError);
    socket.write(req);
  });
}

export function acceptKey(key) {
  return createHash('sha1').update(key + GUID).digest('base64');
}

// Assert a successful upgrade: 101, Upgrade: websocket, Connection: upgrade, correct accept.
export function assertUpgraded(res) {
  assert.equal(res.status, 101, 'handshake must answer 101 Switching Protocols');
  assert.match(res.headers.upgrade ?? '', /^websocket$/i, 'Upgrade: websocket');
  assert.match(res.headers.connection ?? '', /(^|,)\s*upgrade\s*(,|$)/i, 'Connection: Upgrade');
  assert.equal(res.headers['sec-websocket-accept'], acceptKey(res.key), 'Sec-WebSocket-Accept');
}

// ---- probes and fillers ----

// A probe built from a Phoenix heartbeat (serializer vsn 1.0.0, JSON object form).
export function phoenixHeartbeatProbe(ref = '1') {
  return {
    text: JSON.stringify({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref }),
    isReply(text) {
      let msg;
      try {
        msg = JSON.parse(text);
      } catch {
        return false;
      }
      return (
        msg !== null &&
        typeof msg === 'object' &&
        !Array.isArray(msg) &&
        msg.ref === ref &&
        msg.event === 'phx_reply'
      );
    },
    // Heartbeats with another ref, padded with multi-byte characters to exactly n bytes;
    // their replies (if any) do not match isReply.
    filler(n) {
      const head = '{"topic":"phoenix","event":"heartbeat","payload":{"pad":"';
      const tail = '"},"ref":"filler"}';
      return Buffer.concat([Buffer.from(head), utf8Pad(n - head.length - tail.length), Buffer.from(tail)]);
    },
  };
}

// Exactly n bytes of valid UTF-8 with 2-, 3- and 4-byte characters.
export function utf8Pad(n) {
  if (n < 0) throw new Error('filler too short');
  const unit = Buffer.from('é€𝄞'); // 2 + 3 + 4 bytes
  const parts = [];
  let left = n;
  while (left >= unit.length) {
    parts.push(unit);
    left -= unit.length;
  }
  parts.push(Buffer.alloc(left, 'a'));
  return Buffer.concat(parts);
}

function fillerOf(probe, n) {
  if (probe.filler) {
    const b = probe.filler(n);
    assert.equal(b.length, n, 'probe.filler(n) must return n bytes');
    return b;
  }
  return utf8Pad(n);
}

// ---- the cases ----

// Register the conformance cases with node:test.
// options: url (string or function), probe ({ text, isReply(text), filler?(n) }), query
// (appended to the URL's query), maxMessage (the server's message limit, default 1 MiB),
// timeoutMs (per wait, default 5000), name (prefix of test names), testFn (default test).
export function runConformance({
  url,
  probe,
  query = '',
  maxMessage = 1 << 20,
  timeoutMs = 5000,
  name = 'ws conformance',
  testFn = test,
}) {
  assert.ok(url, 'runConformance needs url');
  assert.ok(probe && typeof probe.text === 'string' && typeof probe.isReply === 'function',
    'runConformance needs probe { text, isReply }');
  const T = timeoutMs;
  const caseTimeout = T * 4;

  const target = async () => resolveUrl(typeof url === 'function' ? await url() : url, query);

  // Open a connection and assert the upgrade succeeded.
  const open = async () => {
    const res = await handshake(await target(), { timeoutMs: T });
    assertUpgraded(res);
    return res.conn;
  };

  // Read frames until the probe's reply; answers server pings, fails on a close frame.
  const expectReply = async (conn) => {
    for (;;) {
      const f = await conn.nextFrame(T);
      if (f.opcode === OP.CLOSE) {
        const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 'none';
        assert.fail(`server closed (code ${code}) instead of answering the probe`);
      }
      if (f.opcode === OP.PING) {
        conn.send({ opcode: OP.PONG, payload: f.payload });
        continue;
      }
      if (f.opcode === OP.TEXT && f.fin && probe.isReply(f.payload.toString('utf8'))) return;
    }
  };

  const sendProbe = (conn) => conn.send({ opcode: OP.TEXT, payload: probe.text });

  // Read until a close frame (other frames before it are allowed) and return its code, or
  // null for an empty close payload.
  const readClose = async (conn) => {
    for (;;) {
      const f = await conn.nextFrame(T);
      if (f.opcode !== OP.CLOSE) continue;
      assert.ok(f.fin, 'close frame must have FIN');
      assert.notEqual(f.payload.length, 1, 'close payload of 1 byte is invalid');
      return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
    }
  };

  // The server must send a close frame with code, then close the TCP connection.
  const expectClose = async (conn, code) => {
    const got = await readClose(conn);
    assert.equal(got, code, `expected close code ${code}, got ${got}`);
    await conn.waitClosed(T);
  };

  const negative = (title, bytes, code, opts = {}) =>
    testFn(`${name}: ${title}`, { timeout: opts.timeout ?? caseTimeout }, async () => {
      const conn = await open();
      try {
        conn.write(typeof bytes === 'function' ? bytes() : bytes);
        await expectClose(conn, code);
      } finally {
        conn.destroy();
      }
    });

  const positive = (title, fn, opts = {}) =>
    testFn(`${name}: ${title}`, { timeout: opts.timeout ?? caseTimeout }, async () => {
      const conn = await open();
      try {
        await fn(conn);
      } finally {
        conn.destroy();
      }
    });

  const frames = (...list) => Buffer.concat(list.map((f) => encodeFrame(f)));
  const probeBytes = Buffer.from(probe.text);

  // -- handshake --

  testFn(`${name}: handshake answers 101 with the right Sec-WebSocket-Accept`, { timeout: caseTimeout }, async () => {
    const res = await handshake(await target(), { timeoutMs: T });
    try {
      assertUpgraded(res);
    } finally {
      res.conn?.destroy();
    }
  });

  testFn(`${name}: handshake with an unsupported Sec-WebSocket-Version is refused`, { timeout: caseTimeout }, async () => {
    const res = await handshake(await target(), {
      headers: { 'Sec-WebSocket-Version': '14' },
      timeoutMs: T,
    });
    res.conn?.destroy();
    assert.ok([400, 426].includes(res.status), `status ${res.status} not in [400, 426]`);
    const versions = res.headers['sec-websocket-version'];
    if (res.status === 426) {
      assert.ok(versions, '426 must list the supported versions (RFC 6455 4.4)');
    }
    if (versions !== undefined) {
      assert.ok(versions.split(',').map((v) => v.trim()).includes('13'),
        `Sec-WebSocket-Version "${versions}" must include 13`);
    }
  });

  testFn(`${name}: handshake without Sec-WebSocket-Key gets 400`, { timeout: caseTimeout }, async () => {
    const res = await handshake(await target(), { headers: { 'Sec-WebSocket-Key': null }, timeoutMs: T });
    res.conn?.destroy();
    assert.equal(res.status, 400);
  });

  testFn(`${name}: handshake with a malformed Sec-WebSocket-Key gets 400`, { timeout: caseTimeout }, async () => {
    const res = await handshake(await target(), { headers: { 'Sec-WebSocket-Key': 'c2hvcnQ=' }, timeoutMs: T });
    res.conn?.destroy();
    assert.equal(res.status, 400);
  });

  // -- data frames that must work --

  positive('probe in a single text frame is answered', async (conn) => {
    sendProbe(conn);
    await expectReply(conn);
  });

  positive('probe in 3 fragments (continuation frames) is answered', async (conn) => {
    const a = Math.floor(probeBytes.length / 3);
    const b = Math.floor((2 * probeBytes.length) / 3);
    conn.write(frames(
      { fin: false, opcode: OP.TEXT, payload: probeBytes.subarray(0, a) },
      { fin: false, opcode: OP.CONT, payload: probeBytes.subarray(a, b) },
      { fin: true, opcode: OP.CONT, payload: probeBytes.subarray(b) },
    ));
    await expectReply(conn);
  });

  positive('ping with payload gets a pong with the same payload', async (conn) => {
    const payload = Buffer.from('ping payload \x00\xff');
    conn.send({ opcode: OP.PING, payload });
    let f = await conn.nextFrame(T);
    while (f.opcode === OP.TEXT) {
      f = await conn.nextFrame(T); // unrelated application messages may come first
    }
    assert.equal(f.opcode, OP.PONG);
    assert.ok(f.fin);
    assert.deepEqual(f.payload, payload);
    sendProbe(conn);
    await expectReply(conn);
  });

  positive('ping interleaved between fragments is answered, message still assembled', async (conn) => {
    const half = Math.floor(probeBytes.length / 2);
    const payload = Buffer.from('between');
    conn.write(frames(
      { fin: false, opcode: OP.TEXT, payload: probeBytes.subarray(0, half) },
      { opcode: OP.PING, payload },
      { fin: true, opcode: OP.CONT, payload: probeBytes.subarray(half) },
    ));
    let pong = false;
    let reply = false;
    while (!pong || !reply) {
      const f = await conn.nextFrame(T);
      assert.notEqual(f.opcode, OP.CLOSE, 'server closed the connection');
      if (f.opcode === OP.PONG) {
        assert.deepEqual(f.payload, payload);
        pong = true;
      } else if (f.opcode === OP.TEXT && probe.isReply(f.payload.toString('utf8'))) {
        reply = true;
      }
    }
  });

  positive('unsolicited pong is ignored', async (conn) => {
    conn.send({ opcode: OP.PONG, payload: 'unsolicited' });
    sendProbe(conn);
    await expectReply(conn);
  });

  positive('binary message is ignored and the connection stays open', async (conn) => {
    conn.send({ opcode: OP.BINARY, payload: Buffer.from([0, 1, 2, 0xff]) });
    sendProbe(conn);
    await expectReply(conn);
  });

  for (const n of [0, 125, 126, 65535, 65536]) {
    if (n === 0) {
      positive('empty text frame is accepted', async (conn) => {
        conn.write(frames({ opcode: OP.TEXT, payload: Buffer.alloc(0) }, { opcode: OP.TEXT, payload: probeBytes }));
        await expectReply(conn);
      });
      continue;
    }
    positive(`text frame of ${n} bytes is accepted`, async (conn) => {
      conn.write(frames({ opcode: OP.TEXT, payload: fillerOf(probe, n) }, { opcode: OP.TEXT, payload: probeBytes }));
      await expectReply(conn);
    });
  }

  positive('valid multi-byte UTF-8 split across fragments is accepted', async (conn) => {
    const msg = fillerOf(probe, 200);
    // Cut inside multi-byte characters: find bytes that are continuation bytes (10xxxxxx).
    const cuts = [];
    for (let i = 1; i < msg.length && cuts.length < 3; i++) {
      if ((msg[i] & 0xc0) === 0x80 && (cuts.length === 0 || i > cuts[cuts.length - 1] + 5)) cuts.push(i);
    }
    assert.equal(cuts.length, 3, 'filler must contain multi-byte characters');
    const parts = [msg.subarray(0, cuts[0]), msg.subarray(cuts[0], cuts[1]), msg.subarray(cuts[1], cuts[2]), msg.subarray(cuts[2])];
    conn.write(frames(
      ...parts.map((p, i) => ({ fin: i === parts.length - 1, opcode: i === 0 ? OP.TEXT : OP.CONT, payload: p })),
      { opcode: OP.TEXT, payload: probeBytes },
    ));
    await expectReply(conn);
  });

  // -- protocol errors: close 1002 --

  negative('RSV1 set -> 1002', () => frames({ rsv: 4, opcode: OP.TEXT, payload: probeBytes }), 1002);
  negative('RSV2 set -> 1002', () => frames({ rsv: 2, opcode: OP.TEXT, payload: probeBytes }), 1002);
  negative('RSV3 set on a ping -> 1002', () => frames({ rsv: 1, opcode: OP.PING, payload: 'x' }), 1002);
  negative('reserved opcode 3 -> 1002', () => frames({ opcode: 3, payload: 'x' }), 1002);
  negative('reserved opcode 0xB -> 1002', () => frames({ opcode: 0xb, payload: 'x' }), 1002);
  negative('ping with a 126-byte payload -> 1002', () => frames({ opcode: OP.PING, payload: Buffer.alloc(126, 0x61) }), 1002);
  negative('fragmented ping (FIN=0) -> 1002', () => frames({ fin: false, opcode: OP.PING, payload: 'a' }, { fin: true, opcode: OP.CONT, payload: 'b' }), 1002);
  negative('continuation without a started message -> 1002', () => frames({ fin: true, opcode: OP.CONT, payload: probeBytes }), 1002);
  negative('new text frame inside a fragmented message -> 1002', () =>
    frames({ fin: false, opcode: OP.TEXT, payload: 'abc' }, { fin: true, opcode: OP.TEXT, payload: probeBytes }), 1002);
  negative('unmasked client frame -> 1002', () => frames({ opcode: OP.TEXT, payload: probeBytes, mask: false }), 1002);

  // -- UTF-8: close 1007 --

  negative('invalid UTF-8 in a single text frame -> 1007', () =>
    frames({ opcode: OP.TEXT, payload: Buffer.from([0x68, 0x69, 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xed, 0xa0, 0x80]) }), 1007);
  negative('invalid UTF-8 split across fragments -> 1007', () =>
    frames(
      { fin: false, opcode: OP.TEXT, payload: Buffer.from([0x61, 0xf4]) },
      { fin: false, opcode: OP.CONT, payload: Buffer.from([0x90, 0x80]) },
      { fin: true, opcode: OP.CONT, payload: Buffer.from([0x80, 0x61]) },
    ), 1007);
  negative('text message ending inside a UTF-8 sequence -> 1007', () =>
    frames(
      { fin: false, opcode: OP.TEXT, payload: 'ok' },
      { fin: true, opcode: OP.CONT, payload: Buffer.from([0xf0, 0x9f, 0x98]) },
    ), 1007);

  // -- closing --

  negative('close 1000 is echoed with 1000', () => frames({ opcode: OP.CLOSE, payload: closePayload(1000, 'bye') }), 1000);

  positive('close with an empty payload is answered with a close', async (conn) => {
    conn.send({ opcode: OP.CLOSE, payload: Buffer.alloc(0) });
    const code = await readClose(conn);
    assert.ok(code === null || code === 1000, `empty close answered with ${code}`);
    await conn.waitClosed(T);
  });

  negative('close with a 1-byte payload -> 1002', () => frames({ opcode: OP.CLOSE, payload: Buffer.from([0x03]) }), 1002);
  for (const code of [0, 999, 1004, 1005, 1006, 1016, 2999, 5000]) {
    negative(`close with invalid code ${code} -> 1002`, () => frames({ opcode: OP.CLOSE, payload: closePayload(code) }), 1002);
  }
  for (const code of [3000, 4999]) {
    negative(`close with code ${code} is echoed`, () => frames({ opcode: OP.CLOSE, payload: closePayload(code) }), code);
  }
  negative('close reason with invalid UTF-8 -> 1007', () =>
    frames({ opcode: OP.CLOSE, payload: closePayload(1000, Buffer.from([0x62, 0xff, 0x65])) }), 1007);

  positive('after its close frame the server closes the TCP connection', async (conn) => {
    conn.send({ opcode: OP.CLOSE, payload: closePayload(1000) });
    const code = await readClose(conn);
    assert.equal(code, 1000);
    // No bytes are sent after the close; the server must end the TCP connection itself.
    await conn.waitClosed(T);
    assert.equal(conn.frames.length, 0, 'no frames may follow the close frame');
  });

  // -- size limit: close 1009 --

  negative(`message over ${maxMessage} bytes -> 1009`, () => frames({ opcode: OP.BINARY, payload: Buffer.alloc(maxMessage + 1, 0x61) }), 1009,
    { timeout: caseTimeout * 2 });
  negative(`fragmented message over ${maxMessage} bytes -> 1009`, () => {
    const half = Math.floor(maxMessage / 2) + 1;
    return frames(
      { fin: false, opcode: OP.TEXT, payload: Buffer.alloc(half, 0x61) },
      { fin: true, opcode: OP.CONT, payload: Buffer.alloc(half, 0x61) },
    );
  }, 1009, { timeout: caseTimeout * 2 });
}
