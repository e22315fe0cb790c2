// Unit tests of the datetime-local conversions used by the message forms (to the second, so
// a message can expire a few seconds from now).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isoToLocal, localToISO } from '../src/lib/format.js';

test('isoToLocal keeps seconds and round-trips through localToISO', () => {
  const iso = '2026-11-25T10:11:12.000Z';
  const local = isoToLocal(iso);
  assert.match(local, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
  assert.equal(local.slice(-2), '12');
  assert.equal(localToISO(local), iso);
});

test('empty and invalid values', () => {
  assert.equal(isoToLocal(null), '');
  assert.equal(isoToLocal('not a date'), '');
  assert.equal(localToISO(''), null);
  assert.equal(localToISO('garbage'), null);
});
