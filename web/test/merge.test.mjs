// Unit tests for the pure list-merging and throttling rules (node --test web/test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChange, applyChanges, mergeSnapshot, withOverlay, createThrottle, upsertRow, serverOrder } from '../src/lib/merge.js';

const up = (r) => ({ eventType: 'UPDATE', new: r });
const ins = (r) => ({ eventType: 'INSERT', new: r });
const del = (id) => ({ eventType: 'DELETE', old: { id } });

test('insert adds once; a repeated insert does not duplicate', () => {
  let rows = applyChange([], ins({ id: 'a', version: 1 }));
  rows = applyChange(rows, ins({ id: 'a', version: 1 }));
  assert.equal(rows.length, 1);
});

test('an older version never replaces a newer one', () => {
  let rows = [{ id: 'a', version: 3, status: 'busy' }];
  rows = applyChange(rows, up({ id: 'a', version: 2, status: 'away' }));
  assert.equal(rows[0].status, 'busy');
  rows = applyChange(rows, up({ id: 'a', version: 4, status: 'online' }));
  assert.equal(rows[0].status, 'online');
  assert.equal(rows[0].version, 4);
});

test('delete removes whatever the version; unknown delete is a no-op', () => {
  const rows = [{ id: 'a', version: 1 }, { id: 'b', version: 1 }];
  assert.deepEqual(applyChange(rows, del('a')).map((r) => r.id), ['b']);
  assert.equal(applyChange(rows, del('zz')), rows);
});

test('a row that stops matching the filter leaves the list; a new matching row joins', () => {
  const busy = (r) => r.status === 'busy';
  let rows = [{ id: 'a', version: 1, status: 'busy' }];
  rows = applyChange(rows, up({ id: 'a', version: 2, status: 'away' }), busy);
  assert.equal(rows.length, 0);
  rows = applyChange(rows, up({ id: 'b', version: 5, status: 'busy' }), busy);
  assert.deepEqual(rows.map((r) => r.id), ['b']);
});

test('snapshot + events received during the request: newest wins, deletes stick', () => {
  const snapshot = [{ id: 'a', version: 2, t: 'snap' }, { id: 'b', version: 1 }, { id: 'b', version: 1 }];
  const during = [up({ id: 'a', version: 1, t: 'old' }), up({ id: 'a', version: 3, t: 'new' }), del('b'), ins({ id: 'c', version: 1 })];
  const rows = mergeSnapshot(snapshot, during);
  assert.deepEqual(rows.map((r) => [r.id, r.version]), [['a', 3], ['c', 1]]);
  assert.equal(rows[0].t, 'new');
});

test('rows without a version (audit entries) are applied as they come', () => {
  const rows = applyChanges([], [ins({ id: 1, seq: 1 }), ins({ id: 2, seq: 2 })]);
  assert.equal(rows.length, 2);
});

test('optimistic overlay shows the pending value and marks it', () => {
  const rows = [{ id: 'a', version: 1, status: 'online' }];
  const out = withOverlay(rows, new Map([['a', { status: 'busy' }]]));
  assert.equal(out[0].status, 'busy');
  assert.equal(out[0]._pending, true);
  assert.equal(rows[0].status, 'online');
  assert.equal(upsertRow(rows, { id: 'a', version: 2, status: 'busy' })[0].status, 'busy');
});

test('throttle: a burst of 100 becomes one summary; duplicates are dropped', () => {
  let t = 0;
  const th = createThrottle({ burst: 3, dedupMs: 1000, now: () => t });
  for (let i = 0; i < 100; i++) th.push({ key: `m${i}` });
  th.push({ key: 'm5' });
  const r = th.flush();
  assert.equal(r.items.length, 0);
  assert.equal(r.summary.count, 100);
  th.push({ key: 'x' });
  th.push({ key: 'x' });
  assert.equal(th.flush().items.length, 1);
  t = 5000;
  th.push({ key: 'x' });
  assert.equal(th.flush().items.length, 1);
});

test('serverOrder: the list API order (column, then id; nulls first ascending, last descending)', () => {
  const rows = [
    { id: 'c', display_name: 'Bea', reason: null, status_since: '2026-01-01T00:00:02.000Z' },
    { id: 'a', display_name: 'bea', reason: 'lunch', status_since: '2026-01-01T00:00:01.000Z' },
    { id: 'b', display_name: 'Bea', reason: 'call', status_since: '2026-01-01T00:00:01.000Z' },
  ];
  const ids = (sort) => rows.slice().sort(serverOrder(sort)).map((r) => r.id);
  assert.deepEqual(ids('display_name'), ['b', 'c', 'a'], 'binary order: upper case first, ties by id');
  assert.deepEqual(ids('-display_name'), ['a', 'c', 'b']);
  assert.deepEqual(ids('reason'), ['c', 'b', 'a'], 'null first ascending');
  assert.deepEqual(ids('-reason'), ['a', 'b', 'c'], 'null last descending');
  assert.deepEqual(ids('-status_since'), ['c', 'b', 'a']);
  assert.deepEqual(ids(''), ['a', 'b', 'c']);
});
