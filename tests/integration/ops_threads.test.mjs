// The server's threads carry names an operator can read (`top -H`, `ps -L`, perf, gdb): one
// sb-worker-N per event loop, the SQLite writer lane and its sync thread, the change-log hub,
// the checkpoint thread and the scheduled jobs. Read from /proc, as those tools do.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { startServer } from './lib/server.mjs';

let srv;
after(async () => { await srv?.cleanup(); });

const threadNames = (pid) => readdirSync(`/proc/${pid}/task`)
  .map((t) => readFileSync(`/proc/${pid}/task/${t}/comm`, 'utf8').trim());

test('every long-lived thread is named', { timeout: 60000 }, async () => {
  srv = await startServer({ workers: 3 });
  // A thread names itself when it starts running: wait for all of them (bounded).
  const want = ['sb-worker-0', 'sb-worker-1', 'sb-worker-2', 'sb-lane', 'sb-sync', 'sb-hub',
    'sb-checkpoint', 'sb-jobs'];
  let names = [];
  for (let i = 0; i < 100; i++) {
    names = threadNames(srv.proc.pid);
    if (want.every((n) => names.includes(n))) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const n of want) {
    assert.equal(names.filter((x) => x === n).length, 1, `one thread named ${n} in ${JSON.stringify(names)}`);
  }
  assert.ok(!names.includes('sb-worker-3'), 'no more workers than asked for');
});
