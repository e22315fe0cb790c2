// Unit tests of the panel's CSV helpers (lib/csv.js): records numbered as the server numbers
// them (quotes, embedded line breaks, CRLF, BOM), lines written back, problems grouped by row.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { csvLine, parseCsv, problemsByRow } from '../src/lib/csv.js';

test('parseCsv: quotes, doubled quotes, embedded line breaks, CRLF and a BOM', () => {
  const text = '\uFEFFemail,name,role\r\na@x.test,"Quoted, name",agent\r\nb@x.test,"two\nlines ""q""",viewer\nc@x.test,,agent';
  assert.deepEqual(parseCsv(text), [
    ['email', 'name', 'role'],
    ['a@x.test', 'Quoted, name', 'agent'],
    ['b@x.test', 'two\nlines "q"', 'viewer'],
    ['c@x.test', '', 'agent'],
  ]);
  assert.deepEqual(parseCsv('a,b\n'), [['a', 'b']], 'a final line break adds no record');
  assert.deepEqual(parseCsv(''), []);
  assert.deepEqual(parseCsv('a\n"open,quote\n'), [['a'], ['open,quote\n']], 'an open quote ends at the end');
  assert.equal(parseCsv('x\n'.repeat(50), 10).length, 10, 'bounded');
});

test('csvLine quotes only what needs it and round-trips', () => {
  assert.equal(csvLine(['a', 'b,c', 'say "hi"', null, '-x']), 'a,"b,c","say ""hi""",,-x\r\n');
  const rec = ['t-_AZ09', 'multi\nline', ''];
  assert.deepEqual(parseCsv(csvLine(rec)), [rec]);
});

test('problemsByRow groups and orders by row', () => {
  const g = problemsByRow([
    { row: 5, field: 'role', issue: 'forbidden' },
    { row: 3, field: 'email', issue: 'invalid' },
    { row: 5, field: 'name', issue: 'required' },
  ]);
  assert.deepEqual(g.map((x) => [x.row, x.problems.length]), [[3, 1], [5, 2]]);
  assert.deepEqual(problemsByRow(null), []);
});
