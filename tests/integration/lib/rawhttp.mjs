// Raw-socket HTTP/1.x client for tests: send exact bytes over node:net, read whole responses
// (status line, headers, Content-Length or chunked body), and notice when the server closes
// the connection. Every wait is bounded by a timeout.
import net from 'node:net';

const CRLF2 = Buffer.from('\r\n\r\n');

export class RawConn {
  constructor(sock) {
    this.sock = sock;
    this.buf = Buffer.alloc(0);
    this.closed = false; // the peer ended or the socket closed
    this.error = null;
    this.waiters = new Set();
    sock.on('data', (d) => { this.buf = Buffer.concat([this.buf, d]); this.#wake(); });
    sock.on('end', () => { this.closed = true; this.#wake(); });
    sock.on('close', () => { this.closed = true; this.#wake(); });
    sock.on('error', (e) => { this.error = e; this.closed = true; this.#wake(); });
  }

  #wake() { for (const w of [...this.waiters]) w(); }

  // Resolve when pred() is true (checked on every event), or reject after timeoutMs.
  #until(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let v;
        try { v = pred(); } catch (e) { done(); reject(e); return; }
        if (v !== undefined && v !== false) { done(); resolve(v); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`timeout (${timeoutMs} ms) waiting for ${what}; buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 300))}`)); }, timeoutMs);
      const done = () => { clearTimeout(timer); this.waiters.delete(check); };
      this.waiters.add(check);
      check();
    });
  }

  write(data) {
    return new Promise((resolve, reject) => {
      this.sock.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (e) => (e ? reject(e) : resolve()));
    });
  }

  // Try to take one complete response off the buffer; undefined if incomplete.
  #take(noBody) {
    const end = this.buf.indexOf(CRLF2);
    if (end < 0) {
      if (this.closed) throw new Error(`connection closed before a complete response head (got ${this.buf.length} bytes)`);
      return undefined;
    }
    const rawHead = this.buf.subarray(0, end).toString('latin1');
    const lines = rawHead.split('\r\n');
    const m = lines[0].match(/^HTTP\/(\d\.\d) (\d{3}) ?(.*)$/);
    if (!m) throw new Error(`bad status line: ${JSON.stringify(lines[0])}`);
    const headers = {}; // lower-case name -> value (repeated fields joined with ", ")
    const headerList = [];
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i <= 0) throw new Error(`bad header line: ${JSON.stringify(l)}`);
      const k = l.slice(0, i).toLowerCase();
      const v = l.slice(i + 1).trim();
      headerList.push([k, v]);
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    const status = Number(m[2]);
    let pos = end + 4;
    let body = Buffer.alloc(0);
    const bodyless = noBody || (status >= 100 && status < 200) || status === 204 || status === 304;
    if (!bodyless) {
      if (/chunked/i.test(headers['transfer-encoding'] || '')) {
        const parts = [];
        for (;;) {
          const le = this.buf.indexOf('\r\n', pos);
          if (le < 0) return this.#incomplete();
          const size = parseInt(this.buf.subarray(pos, le).toString('latin1'), 16);
          if (Number.isNaN(size)) throw new Error('bad chunk size in response');
          if (size === 0) {
            const te = this.buf.indexOf(CRLF2, le);
            if (te < 0) return this.#incomplete();
            pos = te + 4;
            break;
          }
          if (this.buf.length < le + 2 + size + 2) return this.#incomplete();
          parts.push(this.buf.subarray(le + 2, le + 2 + size));
          pos = le + 2 + size + 2;
        }
        body = Buffer.concat(parts);
      } else if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (this.buf.length < pos + n) return this.#incomplete();
        body = Buffer.from(this.buf.subarray(pos, pos + n));
        pos += n;
      } else {
        if (!this.closed) return undefined; // read until close
        body = Buffer.from(this.buf.subarray(pos));
        pos = this.buf.length;
      }
    }
    this.buf = this.buf.subarray(pos);
    const text = body.toString('utf8');
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    return { version: m[1], status, reason: m[3], headers, headerList, rawHead, body, text, json };
  }

  #incomplete() {
    if (this.closed) throw new Error('connection closed in the middle of a response body');
    return undefined;
  }

  // Read one complete response. opts: {timeoutMs=5000, head=false (response to HEAD: no body)}.
  readResponse({ timeoutMs = 5000, head = false } = {}) {
    return this.#until(() => this.#take(head), timeoutMs, 'a response');
  }

  // Read n responses in order.
  async readResponses(n, opts) {
    const out = [];
    for (let i = 0; i < n; i++) out.push(await this.readResponse(opts));
    return out;
  }

  // Resolve true when the server has closed the connection (and no unread bytes arrive
  // after it); reject after timeoutMs.
  waitClose(timeoutMs = 5000) {
    return this.#until(() => this.closed, timeoutMs, 'the connection to close');
  }

  // Bytes that arrived and were not consumed by readResponse.
  pending() { return this.buf; }

  close() { this.sock.destroy(); }
}

export function connect(port, host = '127.0.0.1', timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('connect timeout')); }, timeoutMs);
    sock.once('connect', () => { clearTimeout(timer); sock.setNoDelay(true); resolve(new RawConn(sock)); });
    sock.once('error', (e) => { clearTimeout(timer); reject(e); });
  });
}

// A GET request head as a string.
export function get(path, extra = '', host = '127.0.0.1') {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
}

// One-shot: connect, send bytes, read one response. Returns {res, conn}.
export async function exchange(port, bytes, opts = {}) {
  const conn = await connect(port);
  await conn.write(bytes);
  const res = await conn.readResponse(opts);
  return { res, conn };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
