// Pure parts of live validation, the dashboard history merge and the millisecond round trip.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { after, email, issueText, maxLen, minLen, required, serverFieldErrors, validate } from '../src/lib/validate.js';
import { historyPoint, mergeSeries } from '../src/lib/series.js';
import { isoToLocal, localToISOKeeping } from '../src/lib/format.js';

test('validate: the first failing rule per field', () => {
  const rules = { title: [required('A title'), maxLen(5)], mail: [email()], pw: [minLen(8)], to: [after('from', 'late')] };
  assert.deepEqual(validate({ title: '', mail: 'a@b.co', pw: '', to: '' }, rules), { title: 'A title is required.' });
  assert.deepEqual(validate({ title: '123456', mail: 'nope', pw: 'short', to: '2020-01-01T00:00:00', from: '2020-01-02T00:00:00' }, rules), {
    title: 'At most 5 characters (now 6).',
    mail: 'Not a valid e-mail address.',
    pw: 'At least 8 characters.',
    to: 'late',
  });
  assert.deepEqual(validate({ title: 'ok', mail: '', pw: '', to: '2020-01-03T00:00:00', from: '2020-01-02T00:00:00' }, rules), {});
});

test('server details: words, not codes; 422 and 409 with details, never a version conflict', () => {
  assert.equal(issueText('must_be_after_starts_at'), 'Must be after the start.');
  assert.equal(issueText('some_new_issue'), 'Some new issue.');
  const d = [{ field: 'email', issue: 'taken' }];
  assert.deepEqual(serverFieldErrors({ status: 409, details: d }), { email: 'Already taken.' });
  assert.deepEqual(serverFieldErrors({ status: 422, details: [{ field: 'expires_at', issue: 'must_be_after_starts_at' }] }), { expires_at: 'Must be after the start.' });
  assert.equal(serverFieldErrors({ status: 409, details: d, current: { id: 1 } }), null);
  assert.equal(serverFieldErrors({ status: 500, details: d }), null);
  assert.equal(serverFieldErrors({ status: 422, details: [] }), null);
});

test('an untouched date keeps its milliseconds', () => {
  const iso = '2026-03-01T10:20:30.123Z';
  assert.equal(localToISOKeeping(isoToLocal(iso), iso), iso);
  const changed = localToISOKeeping('2026-03-01T09:00:00', iso);
  assert.notEqual(changed, iso);
  assert.match(changed, /\.000Z$/);
  assert.equal(localToISOKeeping('', iso), null);
});

test('dashboard history: points from the server, then the live ones', () => {
  const h = [
    { at: '2026-01-01T00:00:00Z', online: 1, busy: 2, away: 3, events_per_minute: 4, critical_messages: 0 },
    { at: '2026-01-01T00:00:02Z', online: 2, busy: 2, away: 3, events_per_minute: 4, critical_messages: 1 },
    { at: 'garbage' },
  ].map(historyPoint);
  assert.equal(h[2], null);
  assert.deepEqual(h[0], { t: Date.parse('2026-01-01T00:00:00Z'), online: 1, busy: 2, away: 3, epm: 4, flags: [] });
  assert.deepEqual(h[1].flags, ['critical_message_active']);
  const live = [{ t: Date.parse('2026-01-01T00:00:02Z'), online: 9, busy: 0, away: 0, epm: 0, flags: [] }];
  const m = mergeSeries(h.slice(0, 2), live);
  assert.deepEqual(m.map((p) => p.online), [1, 9], 'the live sample wins from its time on');
  assert.equal(mergeSeries([], live), live);
});
