// Unit tests of the windowed grid geometry (web/src/lib/window.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridWindow } from '../src/lib/window.js';

test('top of a long list: the visible rows plus overscan, the rest as bottom padding', () => {
  const w = gridWindow({ count: 5000, cols: 4, pitch: 100, top: 0, height: 450, overscan: 2 });
  assert.deepEqual([w.start, w.end, w.padTop], [0, 28, 0], 'rows 0..6 (5 visible + 2)');
  assert.equal(w.rows, 1250);
  assert.equal(w.padBottom, (1250 - 7) * 100);
});

test('scrolled to the end: the last (partial) row is rendered, no bottom padding', () => {
  const w = gridWindow({ count: 5001, cols: 4, pitch: 100, top: 1251 * 100 - 450, height: 450, overscan: 2 });
  assert.equal(w.end, 5001);
  assert.equal(w.padBottom, 0);
  assert.equal(w.start % 4, 0);
  assert.equal(w.padTop, (w.start / 4) * 100);
  assert.ok(w.end - w.start <= 4 * 10);
});

test('degenerate input: empty list, zero sizes, scrolled past the end', () => {
  assert.deepEqual(gridWindow({ count: 0, cols: 3, pitch: 100, top: 0, height: 500 }).end, 0);
  const w = gridWindow({ count: 10, cols: 0, pitch: 0, top: 99999, height: 0 });
  assert.ok(w.start <= w.end && w.end <= 10);
  const past = gridWindow({ count: 10, cols: 2, pitch: 100, top: 1e6, height: 300 });
  assert.equal(past.end, 10);
  assert.ok(past.start < 10, 'never an empty window while there are cards');
});
