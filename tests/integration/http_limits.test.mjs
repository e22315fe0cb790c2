// Malformed requests, request limits and timeouts against the real binary: each bad input
// gets its exact status, the connection is closed afterwards, and a second keep-alive
// connection opened before it is still served after it (the server neither crashes nor
// stalls). Timeouts use a server started with --header-timeout 1s --idle-timeout 1s.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { connect, get, sleep } from './lib/rawhttp.mjs';
import { startServer } from './lib/server.mjs';

let s;

before(async () => {
  s = await startServer({ demo: false });
});
after(async () => {
  if (!s) return;
  const r = await s.stop();
  await s.cleanup();
  assert.equal(r.code, 0, `clean exit after all the bad input: ${JSON.stringify(r)}\n${s.logs.join('').slice(-3000)}`);
});

// Send bytes on a fresh connection while a witness keep-alive connection stays open; expect
// status, a JSON error body, and the connection closed. Returns the response.
async function expectRejected(bytes, status, { code } = {}) {
  const w = await connect(s.port);
  await w.write(get('/livez'));
  assert.equal((await w.readResponse()).status, 200);
  const c = await connect(s.port);
  let r;
  try {
    for (const part of Array.isArray(bytes) ? bytes : [bytes]) await c.write(part);
    r = await c.readResponse({ timeoutMs: 5000 });
    assert.equal(r.status, status, `status for ${JSON.stringify(String(Array.isArray(bytes) ? bytes[0] : bytes).slice(0, 60))}`);
    assert.equal(r.headers.connection, 'close');
    assert.match(r.headers['content-type'] || '', /^application\/json/);
    assert.equal(typeof r.json?.error?.code, 'string');
    if (code) assert.equal(r.json.error.code, code);
    await c.waitClose(4000);
  } finally {
    c.close();
  }
  await w.write(get('/livez'));
  const again = await w.readResponse();
  assert.equal(again.status, 200, 'the concurrent keep-alive connection is still served');
  w.close();
  return r;
}

describe('malformed requests', () => {
  test('Content-Length and Transfer-Encoding together -> 400', () => expectRejected(
    'POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400, { code: 'bad_request' }));

  test('bad chunk size -> 400', () => expectRejected(
    'POST /api/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n', 400));

  test('chunk size overflow -> 400 or 413', async () => {
    const w = await connect(s.port);
    const c = await connect(s.port);
    await c.write('POST /api/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n');
    const r = await c.readResponse();
    assert.ok(r.status === 400 || r.status === 413, String(r.status));
    await c.waitClose(4000);
    await w.write(get('/livez'));
    assert.equal((await w.readResponse()).status, 200);
    c.close();
    w.close();
  });

  test('obs-fold -> 400', () => expectRejected(
    'GET /livez HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n', 400));

  test('whitespace before colon -> 400', () => expectRejected(
    'GET /livez HTTP/1.1\r\nHost: x\r\nX-A : one\r\n\r\n', 400));

  test('duplicate Host -> 400', () => expectRejected(
    'GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400));

  test('missing Host in HTTP/1.1 -> 400', () => expectRejected(
    'GET /livez HTTP/1.1\r\nAccept: */*\r\n\r\n', 400));

  test('an expectation other than 100-continue -> 417', () => expectRejected(
    'PUT /api/v1/x HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\nabc', 417,
    { code: 'expectation_failed' }));

  test('HTTP/1.0 without Host is fine', async () => {
    const c = await connect(s.port);
    await c.write('GET /livez HTTP/1.0\r\n\r\n');
    assert.equal((await c.readResponse()).status, 200);
    c.close();
  });

  test('two different Content-Length values -> 400', () => expectRejected(
    'POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400));

  test('non-numeric Content-Length -> 400', () => expectRejected(
    'POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc', 400));

  test('HTTP/2.0 request line -> 505', () => expectRejected(
    'GET /livez HTTP/2.0\r\nHost: x\r\n\r\n', 505, { code: 'http_version_not_supported' }));

  test('request line of 8193 bytes -> 414; 8192 is accepted', async () => {
    const fixed = 'GET  HTTP/1.1'.length;
    const target = (n) => '/' + 'a'.repeat(n - fixed - 1);
    assert.equal(`GET ${target(8193)} HTTP/1.1`.length, 8193);
    await expectRejected(`GET ${target(8193)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414, { code: 'uri_too_long' });
    // The 414 comes as soon as the line is too long, before its end arrives.
    await expectRejected(`GET ${target(20000)}`, 414);
    const c = await connect(s.port);
    await c.write(`GET /api/v1/${target(8192 - 7).slice(1)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const r = await c.readResponse();
    assert.equal(r.status, 404, 'a request line of exactly 8192 bytes is parsed');
    c.close();
  });

  test('101 header fields -> 431; 100 are accepted', async () => {
    const fields = (n) => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('');
    await expectRejected(`GET /livez HTTP/1.1\r\nHost: x\r\n${fields(100)}\r\n`, 431, { code: 'header_fields_too_large' });
    const c = await connect(s.port);
    await c.write(`GET /livez HTTP/1.1\r\nHost: x\r\n${fields(99)}\r\n`);
    assert.equal((await c.readResponse()).status, 200, '100 fields including Host');
    c.close();
  });

  test('header block over 32 KiB -> 431', async () => {
    const big = 'X-Big: ' + 'b'.repeat(4000) + '\r\n';
    await expectRejected(`GET /livez HTTP/1.1\r\nHost: x\r\n${big.repeat(9)}\r\n`, 431);
    // Sent in pieces without ever ending the head: 431 once 32 KiB have arrived.
    await expectRejected([`GET /livez HTTP/1.1\r\nHost: x\r\n${big.repeat(4)}`, big.repeat(5)], 431);
  });

  test('Transfer-Encoding: gzip -> 501', () => expectRejected(
    'POST /api/v1/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n', 501, { code: 'not_implemented' }));

  test('garbage bytes -> 400', async () => {
    await expectRejected(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]), 400);
    await expectRejected('\x00\x01\x02\x03 garbage \xff\xfe\r\n\r\n', 400);
    await expectRejected('GET /livez HTTP/1.1\r\nHost: x\r\nBad\x00Name: v\r\n\r\n', 400);
    await expectRejected('GET /li vez HTTP/1.1\r\nHost: x\r\n\r\n', 400);
  });

  test('a bad request behind a good one: the good one is answered, then 400 and close', async () => {
    const c = await connect(s.port);
    await c.write(`${get('/livez')}GET /livez HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`);
    const [a, b] = await c.readResponses(2);
    assert.equal(a.status, 200);
    assert.equal(b.status, 400);
    await c.waitClose(4000);
    c.close();
  });

  test('request smuggling: CL.TE does not leak a second request', async () => {
    const c = await connect(s.port);
    await c.write('POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.readResponse();
    assert.equal(r.status, 400);
    await c.waitClose(4000);
    assert.equal(c.pending().length, 0, 'nothing after the 400');
    c.close();
  });
});

describe('timeouts', () => {
  let t;
  before(async () => {
    t = await startServer({ demo: false, args: ['--header-timeout', '1s', '--idle-timeout', '1s'] });
  });
  after(async () => {
    if (t) await t.cleanup();
  });

  test('a head that stalls mid-way gets 408 after the header timeout, then close', async () => {
    const c = await connect(t.port);
    const t0 = Date.now();
    await c.write('GET /livez HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    // Meanwhile another connection is served.
    await sleep(400);
    const o = await connect(t.port);
    await o.write(get('/livez'));
    assert.equal((await o.readResponse()).status, 200);
    o.close();
    const r = await c.readResponse({ timeoutMs: 4000 });
    const dt = Date.now() - t0;
    assert.equal(r.status, 408);
    assert.equal(r.json.error.code, 'request_timeout');
    assert.ok(dt >= 900 && dt < 3000, `408 after ${dt} ms`);
    await c.waitClose(4000);
    c.close();
  });

  test('a trickled head does not extend the header timeout', async () => {
    const c = await connect(t.port);
    const t0 = Date.now();
    const line = 'GET /livez HTTP/1.1\r\nHost: x\r\n';
    let i = 0;
    const timer = setInterval(() => { if (!c.closed) c.write(`X-T${i++}: v\r\n`).catch(() => {}); }, 200);
    try {
      await c.write(line);
      const r = await c.readResponse({ timeoutMs: 4000 });
      assert.equal(r.status, 408);
      assert.ok(Date.now() - t0 < 3000);
    } finally {
      clearInterval(timer);
      c.close();
    }
  });

  test('a stalled body gets 408', async () => {
    const c = await connect(t.port);
    await c.write('POST /api/v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const r = await c.readResponse({ timeoutMs: 4000 });
    assert.equal(r.status, 408);
    await c.waitClose(4000);
    c.close();
  });

  test('an idle keep-alive connection is closed after the idle timeout', async () => {
    const c = await connect(t.port);
    await c.write(get('/livez'));
    assert.equal((await c.readResponse()).status, 200);
    const t0 = Date.now();
    await c.waitClose(4000);
    const dt = Date.now() - t0;
    assert.ok(dt >= 800 && dt < 3000, `closed after ${dt} ms`);
    assert.equal(c.pending().length, 0, 'closed without a response');
    c.close();
  });

  test('a connection that never sends is closed', async () => {
    const c = await connect(t.port);
    await c.waitClose(4000);
    assert.equal(c.pending().length, 0);
    c.close();
  });

  test('a connection kept busy is not closed early', async () => {
    const c = await connect(t.port);
    for (let i = 0; i < 6; i++) {
      await c.write(get('/livez'));
      assert.equal((await c.readResponse()).status, 200);
      await sleep(400);
    }
    assert.equal(c.closed, false, 'alive after 2.4 s of requests 400 ms apart');
    c.close();
  });
});
