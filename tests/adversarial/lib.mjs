// Shared by the adversarial tests: what a hostile peer made the server hold, read from the
// outside (the kernel's VmRSS of the server process, the /metrics gauges over a fresh
// connection that closes, so the reading adds no pooled connection of its own).
import { readFileSync } from 'node:fs';

import { connect, get } from '../integration/lib/rawhttp.mjs';

export const MiB = 1024 * 1024;

// Resident set size of pid in bytes (VmRSS in /proc/<pid>/status).
export function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB$/m);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

// The bound on RSS growth for an attack: mib MiB, or four times that when the server runs
// under AddressSanitizer (its quarantine keeps freed blocks resident, its shadow adds 1/8).
// The unbounded attacks these tests replay grew RSS by 70 to 130 MiB.
export function rssBound(pid, mib) {
  const asan = /libasan|libclang_rt\.asan/.test(readFileSync(`/proc/${pid}/maps`, 'utf8'));
  return (asan ? 4 * mib : mib) * MiB;
}

// The value of one /metrics sample (a name without labels), read over its own connection.
export async function metric(port, name) {
  const conn = await connect(port);
  try {
    await conn.write(get('/metrics', 'Connection: close\r\n'));
    const res = await conn.readResponse({ timeoutMs: 5000 });
    const m = res.text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
    if (!m) throw new Error(`no ${name} in /metrics`);
    return Number(m[1]);
  } finally {
    conn.close();
  }
}

// The open connection count to compare with after an attack: the lowest of five readings
// 100 ms apart. A connection that just closed (a probe, the last reading's own) is counted
// until the server has seen its end, and on a loaded machine a single reading can still
// count it: a baseline one too high lets "back to the count before" pass too early.
export async function openConnectionsSettled(port) {
  let low = Infinity;
  for (let i = 0; i < 5; i++) {
    low = Math.min(low, await metric(port, 'switchboard_connections_open'));
    await new Promise((r) => setTimeout(r, 100));
  }
  return low;
}

// Poll fn() every stepMs until pred(value) holds; returns the value, or throws after
// timeoutMs with the last value seen.
export async function pollUntil(fn, pred, { timeoutMs = 10000, stepMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let v;
  for (;;) {
    v = await fn();
    if (pred(v)) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
