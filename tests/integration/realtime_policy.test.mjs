// Access over realtime follows the same rules as REST (src/policy decides both):
//   - realtime:dashboard carries admin-only metrics: viewers and agents cannot join it (REST
//     answers them 403), admins and super_admins can;
//   - a row moved to another tenant (a super_admin changes a user's client_id): the old
//     tenant sees it leave (a DELETE of the values it could already see), the new tenant sees
//     it arrive (an INSERT, never the old tenant's values), and a third tenant sees nothing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, login } from './lib/server.mjs';
import { RawClient, sleep, startRtServer, tokenFor, until } from './lib/rt_helpers.mjs';

let s;
before(async () => { s = await startRtServer({ args: ['--metrics-interval', '200ms'] }); });
after(async () => { await s?.cleanup(); });

test('realtime:dashboard: refused to viewers and agents like GET /dashboard, open to admins', async () => {
  for (const email of ['viewer@acme.test', 'agent1@acme.test']) {
    const tok = tokenFor(s, email);
    assert.equal((await api(s.url, 'GET', '/api/v1/dashboard', { token: tok })).status, 403);
    const c = await new RawClient(s.wsUrl, tok).open();
    const r = await c.join('realtime:dashboard');
    assert.equal(r.payload.status, 'error', `${email} joined the dashboard`);
    assert.match(r.payload.response.reason, /admins/);
    await sleep(600); // several metric intervals: nothing may arrive
    assert.equal(c.events('broadcast', 'realtime:dashboard').length, 0);
    c.close();
  }
  const admin = await new RawClient(s.wsUrl, tokenFor(s, 'admin@acme.test')).open();
  assert.equal((await admin.join('realtime:dashboard')).payload.status, 'ok');
  // A write changes the figures; the admin gets a metrics push.
  const root = await login(s.url, 'root@demo.test');
  const agents = await api(s.url, 'GET', '/api/v1/agents?limit=1', { token: (await login(s.url, 'admin@acme.test')).access_token });
  const ag = agents.json.data[0];
  await api(s.url, 'PATCH', `/api/v1/agents/${ag.id}`, { token: root.access_token, body: { status: ag.status === 'busy' ? 'online' : 'busy' } });
  await until(() => admin.events('broadcast', 'realtime:dashboard').length > 0, { what: 'metrics for the admin' });
  admin.close();
});

test('a user moved to another tenant: a DELETE for the old tenant, an INSERT for the new, nothing for others', async () => {
  const root = await login(s.url, 'root@demo.test');
  const clients = (await api(s.url, 'GET', '/api/v1/clients', { token: root.access_token })).json.data;
  const acme = clients.find((c) => c.slug === 'acme');
  const globex = clients.find((c) => c.slug === 'globex');
  const other = await api(s.url, 'POST', '/api/v1/clients', { token: root.access_token, body: { name: 'Initech', slug: 'initech' } });
  assert.equal(other.status, 201, other.text);
  const made = await api(s.url, 'POST', '/api/v1/users', { token: root.access_token,
    body: { email: 'mover@acme.test', name: 'Secret Acme Name', role: 'viewer', client_id: acme.id, password: 'mover-password-1' } });
  assert.equal(made.status, 201, made.text);
  const uid = made.json.id ?? made.json.data?.id;

  const sub = async (email) => {
    const c = await new RawClient(s.wsUrl, tokenFor(s, email)).open();
    const r = await c.join('realtime:users', { postgres_changes: [{ event: '*', schema: 'public', table: 'users' }] });
    assert.equal(r.payload.status, 'ok');
    return c;
  };
  const oldSide = await sub('admin@acme.test');
  const newSide = await sub('admin@globex.test');
  const initechAdmin = await api(s.url, 'POST', '/api/v1/users', { token: root.access_token,
    body: { email: 'admin@initech.test', name: 'Initech Admin', role: 'admin', client_id: other.json.id ?? other.json.data?.id, password: 'initech-password-1' } });
  assert.equal(initechAdmin.status, 201, initechAdmin.text);
  await sleep(300);
  const third = await sub('admin@initech.test');
  await sleep(300);
  const before = { old: oldSide.events('postgres_changes').length, new: newSide.events('postgres_changes').length };

  const moved = await api(s.url, 'PATCH', `/api/v1/users/${uid}`, { token: root.access_token,
    body: { client_id: globex.id, name: 'Now Globex' } });
  assert.equal(moved.status, 200, moved.text);

  const gone = await until(() => oldSide.events('postgres_changes').slice(before.old)
    .find((m) => m.payload.data.old_record?.id === uid || m.payload.data.record?.id === uid), { what: 'the old tenant sees the row leave' });
  assert.equal(gone.payload.data.type, 'DELETE');
  assert.equal(gone.payload.data.old_record.name, 'Secret Acme Name');
  assert.equal(gone.payload.data.record, undefined, 'the old tenant never sees the new values');

  const came = await until(() => newSide.events('postgres_changes').slice(before.new)
    .find((m) => m.payload.data.record?.id === uid), { what: 'the new tenant sees the row arrive' });
  assert.equal(came.payload.data.type, 'INSERT');
  assert.equal(came.payload.data.record.name, 'Now Globex');
  assert.equal(came.payload.data.old_record, undefined, 'the new tenant never sees the old values');
  assert.ok(!JSON.stringify(newSide.events('postgres_changes')).includes('Secret Acme Name'));

  await sleep(300);
  assert.ok(!third.events('postgres_changes').some((m) => JSON.stringify(m.payload).includes(uid)),
    'a third tenant sees nothing of it');
  for (const c of [oldSide, newSide, third]) c.close();
});
