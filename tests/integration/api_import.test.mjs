// CSV import of users and agents (issue 13): POST /api/v1/users/import {"csv": text}. All or
// nothing: any problem answers 422 with every problem by row and writes nothing; a good file
// creates every user (agents with their agent_status row) in one transaction, without a
// password, each with a one-time reset token that sets it. 5,000 agents in one call.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login, startServer } from './lib/server.mjs';

let s;
let admin;
before(async () => {
  s = await startServer();
  admin = (await login(s.url, 'admin@acme.test')).access_token;
});
after(async () => { await s?.cleanup(); });

const importCsv = (csv, token = admin) => api(s.url, 'POST', '/api/v1/users/import', { token, body: { csv } });
const total = async (path) => (await api(s.url, 'GET', path, { token: admin })).json.total;

test('a file with problems: 422 listing every problem by row, nothing written', async () => {
  const users0 = await total('/api/v1/users?limit=1');
  const csv = [
    'email,name,role',
    'good1@acme.test,Good One,agent',
    'not-an-email,Bad Mail,agent',
    'good2@acme.test,,agent',
    'boss@acme.test,Boss,super_admin',
    'admin@globex.test,Taken,agent',
    'dup@acme.test,Dup A,viewer',
    'DUP@acme.test,Dup B,viewer',
    'x@acme.test,"Quoted, name",wizard',
  ].join('\r\n');
  const r = await importCsv(csv);
  assert.equal(r.status, 422, r.text);
  const got = r.json.error.details.map((d) => `${d.row}:${d.field}:${d.issue}`).sort();
  assert.deepEqual(got, ['3:email:invalid', '4:name:required', '5:role:forbidden', '6:email:taken',
    '8:email:duplicate_in_file', '9:role:invalid'].sort());
  assert.match(r.json.error.message, /nothing was imported/);
  assert.equal(await total('/api/v1/users?limit=1'), users0, 'nothing was written');
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/login', { body: { email: 'good1@acme.test', password: 'x' } })).status, 401);

  // Malformed CSV and unknown columns are refused the same way.
  let bad = await importCsv('email,name,role\n"open,quote,agent\n');
  assert.equal(bad.status, 422);
  bad = await importCsv('email,name,role,shoe_size\na@acme.test,A,agent,42\n');
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.json.error.details, [{ row: 1, field: 'shoe_size', issue: 'unknown_column' }]);
  assert.equal((await importCsv(undefined)).status, 422);
  // Agents and viewers may not import.
  const agent = (await login(s.url, 'agent1@acme.test')).access_token;
  assert.equal((await importCsv('email,name,role\nz@acme.test,Z,agent\n', agent)).status, 403);
});

test('5,000 agents in one call; each sets a password with its token and logs in', async () => {
  const agents0 = await total('/api/v1/agents?limit=1');
  const lines = ['email,name,role'];
  for (let i = 1; i <= 5000; i++) lines.push(`bulk${i}@acme.test,Bulk Agent ${i},agent`);
  const r = await importCsv(lines.join('\n'));
  assert.equal(r.status, 201, r.text.slice(0, 300));
  assert.equal(r.json.created, 5000);
  assert.equal(r.json.users.length, 5000);
  assert.equal(await total('/api/v1/agents?limit=1'), agents0 + 5000);
  assert.equal(await total('/api/v1/agents?limit=1&q=bulk5000'), 1);
  // No password until the token sets one.
  const u = r.json.users[4999];
  assert.equal(u.email, 'bulk5000@acme.test');
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/login', { body: { email: u.email, password: 'anything-at-all' } })).status, 401);
  const reset = await api(s.url, 'POST', '/api/v1/auth/reset', { body: { token: u.reset_token, new_password: 'my-own-password-1' } });
  assert.equal(reset.status, 200, reset.text);
  const li = await api(s.url, 'POST', '/api/v1/auth/login', { body: { email: u.email, password: 'my-own-password-1' } });
  assert.equal(li.status, 200);
  assert.equal(li.json.user.role, 'agent');
  // The token is single use; importing the same file again is refused as a whole.
  assert.equal((await api(s.url, 'POST', '/api/v1/auth/reset', { body: { token: u.reset_token, new_password: 'again-password-2' } })).status, 422);
  const again = await importCsv(lines.slice(0, 3).join('\n'));
  assert.equal(again.status, 422);
  assert.deepEqual(again.json.error.details.map((d) => d.issue), ['taken', 'taken']);
  // Audited once for the import.
  const root = (await login(s.url, 'root@demo.test')).access_token;
  const audit = await api(s.url, 'GET', '/api/v1/audit?action=user.import', { token: root });
  assert.equal(audit.json.data.length, 1);
  assert.equal(audit.json.data[0].after.users, 5000);
});

test('default_role: the role of records without one; checked like a role in the file', async () => {
  const users0 = await total('/api/v1/users?limit=1');
  // No role column at all: every record gets the default.
  let r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 'email,name\ndr1@acme.test,Default One\n', default_role: 'agent' } });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.users[0].role, 'agent');
  assert.equal(await total('/api/v1/agents?limit=1&q=dr1%40acme'), 1, 'the agent row exists');
  // An empty role field takes the default; a given one stays.
  r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 'email,name,role\ndr2@acme.test,Two,\ndr3@acme.test,Three,viewer\n', default_role: 'agent' } });
  assert.equal(r.status, 201, r.text);
  assert.deepEqual(r.json.users.map((u) => u.role), ['agent', 'viewer']);
  // Bad input changes nothing: an unknown default, a default the caller may not give, an
  // unknown key, a csv that is not text.
  const before = await total('/api/v1/users?limit=1');
  assert.equal(before, users0 + 3);
  r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 'email,name\ndr4@acme.test,Four\n', default_role: 'wizard' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details, [{ field: 'default_role', issue: 'invalid' }]);
  r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 'email,name\ndr4@acme.test,Four\n', default_role: 'super_admin' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details.map((d) => `${d.row}:${d.field}:${d.issue}`), ['2:role:forbidden']);
  r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 'email,name\ndr4@acme.test,Four\n', role: 'agent' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details, [{ field: 'role', issue: 'unknown_field' }]);
  r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 42 } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details, [{ field: 'csv', issue: 'must_be_string' }]);
  // Without a default, a missing role is a problem of the record.
  r = await api(s.url, 'POST', '/api/v1/users/import', { token: admin, body: { csv: 'email,name\ndr4@acme.test,Four\n' } });
  assert.equal(r.status, 422);
  assert.deepEqual(r.json.error.details.map((d) => `${d.row}:${d.field}:${d.issue}`), ['2:role:required']);
  assert.equal(await total('/api/v1/users?limit=1'), before, 'nothing was written');
});
