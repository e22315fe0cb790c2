// Unit tests for the dashboard series and chart geometry (node --test web/test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendPoint, chartGeometry, flagsOf, niceMax, pointOf, WINDOW_MS } from '../src/lib/series.js';

const snap = (online, busy, away, epm, significant) => ({
  agents_by_status: { online, busy, away, offline: 0, total: online + busy + away },
  events_per_minute: epm,
  significant,
});

test('pointOf reads the server snapshot shape and the significant flags', () => {
  const p = pointOf(snap(3, 2, 1, 7, { online_agents_drop: false, critical_message_active: true }), 1000);
  assert.deepEqual(p, { t: 1000, online: 3, busy: 2, away: 1, epm: 7, flags: ['critical_message_active'] });
  assert.deepEqual(pointOf({ agents: { online: { total: 4 } }, events_per_min: { total: 2 } }, 5).online, 4);
  assert.equal(flagsOf({}), null);
  assert.deepEqual(flagsOf({ significant_changes: ['x'] }), ['x']);
});

test('appendPoint keeps time order and drops what left the window but the edge point', () => {
  let s = [];
  s = appendPoint(s, pointOf(snap(1, 0, 0, 0), 0), 0);
  s = appendPoint(s, pointOf(snap(2, 0, 0, 0), 60000), 60000);
  s = appendPoint(s, pointOf(snap(3, 0, 0, 0), 30000), 60000);
  assert.deepEqual(s.map((p) => p.t), [0, 30000, 60000]);
  s = appendPoint(s, pointOf(snap(4, 0, 0, 0), WINDOW_MS + 45000), WINDOW_MS + 45000);
  // 0 is older than the newest out-of-window point (30000): gone; 30000 stays as the edge.
  assert.deepEqual(s.map((p) => p.t), [30000, 60000, WINDOW_MS + 45000]);
});

test('niceMax rounds up to 1, 2, 5 steps', () => {
  assert.deepEqual([0, 1, 3, 7, 11, 40, 120].map(niceMax), [1, 1, 5, 10, 20, 50, 200]);
});

test('chartGeometry draws step lines to now and marks flagged samples', () => {
  const now = WINDOW_MS;
  const s = [pointOf(snap(2, 0, 0, 0), 0), pointOf(snap(1, 1, 0, 4, { critical_message_active: true }), WINDOW_MS / 2)];
  const g = chartGeometry(s, now, { w: 100, h: 50, pad: { l: 0, r: 0, t: 0, b: 0 } });
  assert.equal(g.points, 2);
  assert.equal(g.agentMax, 2);
  assert.equal(g.epmMax, 5);
  assert.equal(g.lines.online, 'M0 0H50V25H100');
  assert.equal(g.lines.busy, 'M0 50H50V25H100');
  assert.deepEqual(g.flags.map((f) => [f.x, f.names]), [[50, ['critical_message_active']]]);
  assert.equal(chartGeometry([], now).lines.online, '');
});
