// Notification preferences kept per user on the server (issue 13): GET and PUT
// /api/v1/me/preferences against the real binary on SQLite.
// - a user who never saved any gets the defaults; a PUT replaces them (keys left out take
//   their defaults) and is audited "user.update_preferences" with before and after;
// - bad input (an unknown key, a value that is not a boolean, a body over 1 KiB, a body that
//   is not a JSON object) is refused with the field named and changes nothing;
// - each user has their own: one user's change leaves every other user's untouched, across
//   tenants and for the super_admin; without a token there is nothing;
// - the preferences survive a server restart and go with a deleted user.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { api, login, startServer } from './lib/server.mjs';
import { sql } from './lib/rt_helpers.mjs';

const PATH = '/api/v1/me/preferences';
const DEFAULTS = { message: true, status: true, connection: true, sound: false };

let s;
const tok = {};
const emails = { admin: 'admin@acme.test', agent: 'agent1@acme.test', viewer: 'viewer@acme.test', globex: 'admin@globex.test', root: 'root@demo.test' };

async function loginAll() {
  for (const [k, e] of Object.entries(emails)) tok[k] = (await login(s.url, e)).access_token;
}
const getPrefs = async (who) => {
  const r = await api(s.url, 'GET', PATH, { token: tok[who] });
  assert.equal(r.status, 200, r.text);
  return r.json;
};
const putPrefs = (who, body) => api(s.url, 'PUT', PATH, { token: tok[who], body });
// A PUT with the body exactly as given (not JSON.stringify'd).
async function putRaw(who, text) {
  const res = await fetch(s.url + PATH, { method: 'PUT', headers: { authorization: `Bearer ${tok[who]}`, 'content-type': 'application/json' }, body: text });
  const t = await res.text();
  return { status: res.status, json: t ? JSON.parse(t) : null, text: t };
}
const auditOf = (action) => Number(sql(s, `SELECT count(*) AS n FROM audit_logs WHERE action = '${action}'`)[0].n);

before(async () => {
  s = await startServer({ demo: true });
  await loginAll();
});
after(async () => {
  await s?.cleanup();
});

test('a user who saved none gets the defaults; a PUT replaces them and is audited', async () => {
  assert.deepEqual(await getPrefs('admin'), DEFAULTS);
  const n0 = auditOf('user.update_preferences');
  const r = await putPrefs('admin', { status: false, sound: true });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { message: true, status: false, connection: true, sound: true });
  assert.deepEqual(await getPrefs('admin'), r.json);
  assert.equal(auditOf('user.update_preferences'), n0 + 1);
  // The audit entry names the user, the actor and both sides.
  const me = (await api(s.url, 'GET', '/api/v1/me', { token: tok.admin })).json.user;
  const a = (await api(s.url, 'GET', `/api/v1/audit?entity_id=${me.id}&action=user.update_preferences`, { token: tok.root })).json.data;
  assert.equal(a.length, 1, JSON.stringify(a));
  assert.equal(a[0].actor_id, me.id);
  assert.equal(a[0].client_id, me.client_id);
  assert.deepEqual(a[0].before, DEFAULTS);
  assert.deepEqual(a[0].after, r.json);
  // The same preferences again change nothing and write no audit entry.
  const again = await putPrefs('admin', { status: false, sound: true, message: true });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.json, r.json);
  assert.equal(auditOf('user.update_preferences'), n0 + 1);
  // Keys left out take their defaults (PUT replaces the whole object).
  const only = await putPrefs('admin', { message: false });
  assert.equal(only.status, 200, only.text);
  assert.deepEqual(only.json, { ...DEFAULTS, message: false });
  assert.equal(auditOf('user.update_preferences'), n0 + 2);
  // An empty object is the defaults.
  const empty = await putPrefs('admin', {});
  assert.equal(empty.status, 200, empty.text);
  assert.deepEqual(empty.json, DEFAULTS);
});

test('bad input: 422 with the field (400 for a body that is no object), nothing changed', async () => {
  const saved = { message: false, status: true, connection: false, sound: true };
  assert.equal((await putPrefs('agent', saved)).status, 200);
  const n0 = auditOf('user.update_preferences');
  const cases = [
    [{ volume: true }, 'volume', 'unknown_field'],
    [{ sound: 'yes' }, 'sound', 'must_be_boolean'],
    [{ sound: 1 }, 'sound', 'must_be_boolean'],
    [{ message: null }, 'message', 'must_be_boolean'],
    [{ status: { on: true } }, 'status', 'must_be_boolean'],
    // one bad key refuses the good ones beside it
    [{ message: true, connection: true, Sound: false }, 'Sound', 'unknown_field'],
    [{ __proto__: null, constructor: true }, 'constructor', 'unknown_field'],
  ];
  for (const [body, field, issue] of cases) {
    const r = await putPrefs('agent', body);
    assert.equal(r.status, 422, `${JSON.stringify(body)}: ${r.text}`);
    assert.equal(r.json.error.code, 'validation_failed');
    assert.ok(r.json.error.details.some((d) => d.field === field && d.issue === issue), `${JSON.stringify(body)}: ${r.text}`);
    assert.deepEqual(await getPrefs('agent'), saved, JSON.stringify(body));
  }
  // Every problem is named, not only the first.
  const both = await putPrefs('agent', { volume: 3, sound: 'loud' });
  assert.equal(both.status, 422);
  assert.deepEqual(both.json.error.details.map((d) => d.field).sort(), ['sound', 'volume']);
  // The size bound: valid keys padded past 1 KiB.
  const big = `{"sound": false${' '.repeat(1100)}}`;
  const r = await putRaw('agent', big);
  assert.equal(r.status, 422, r.text);
  assert.deepEqual(r.json.error.details, [{ field: 'preferences', issue: 'too_large' }]);
  // Many unknown keys: refused by name, far below the server's body limit.
  const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, true]));
  const m = await putPrefs('agent', many);
  assert.equal(m.status, 422, m.text);
  // Not a JSON object at all.
  for (const text of ['[]', 'true', '"x"', '{"sound": tru', '']) {
    const x = await putRaw('agent', text);
    assert.equal(x.status, 400, `${JSON.stringify(text)}: ${x.text}`);
    assert.equal(x.json.error.code, 'bad_request', x.text);
  }
  assert.deepEqual(await getPrefs('agent'), saved);
  assert.equal(auditOf('user.update_preferences'), n0, 'nothing audited');
});

test('each user has their own preferences', async () => {
  const mine = { message: true, status: false, connection: false, sound: false };
  assert.equal((await putPrefs('viewer', mine)).status, 200);
  const snapshot = {};
  for (const k of Object.keys(emails)) snapshot[k] = await getPrefs(k);
  // The viewer's change (any role has its own) touches no one else: same tenant, other
  // tenant, super_admin.
  const next = { message: false, status: true, connection: true, sound: true };
  assert.equal((await putPrefs('viewer', next)).status, 200);
  for (const k of Object.keys(emails)) assert.deepEqual(await getPrefs(k), k === 'viewer' ? next : snapshot[k], k);
  // The super_admin (no client) has its own too.
  const rootPrefs = { ...DEFAULTS, connection: false };
  assert.equal((await putPrefs('root', rootPrefs)).status, 200);
  assert.deepEqual(await getPrefs('root'), rootPrefs);
  assert.deepEqual(await getPrefs('globex'), snapshot.globex);
  assert.deepEqual(await getPrefs('viewer'), next);
  // One row per user that saved, keyed by the user.
  const rows = sql(s, 'SELECT count(*) AS n, count(DISTINCT user_id) AS u FROM user_preferences')[0];
  assert.equal(rows.n, rows.u);
  // No token, a bad token: 401, nothing read or written.
  assert.equal((await api(s.url, 'GET', PATH)).status, 401);
  assert.equal((await api(s.url, 'PUT', PATH, { body: { sound: true } })).status, 401);
  assert.equal((await api(s.url, 'PUT', PATH, { token: 'x.y.z', body: { sound: true } })).status, 401);
  assert.deepEqual(await getPrefs('viewer'), next);
});

test('the preferences survive a restart, and go with a deleted user', { timeout: 60000 }, async () => {
  const want = {};
  for (const k of Object.keys(emails)) want[k] = await getPrefs(k);
  await s.restart();
  await loginAll();
  for (const k of Object.keys(emails)) assert.deepEqual(await getPrefs(k), want[k], k);

  // A new user saves some; deleting the user deletes them.
  const u = await api(s.url, 'POST', '/api/v1/users', { token: tok.admin, body: { email: 'prefs-gone@acme.test', name: 'Gone', role: 'viewer', password: 'a-long-password-1' } });
  assert.equal(u.status, 201, u.text);
  const ut = (await login(s.url, 'prefs-gone@acme.test', 'a-long-password-1')).access_token;
  assert.deepEqual((await api(s.url, 'GET', PATH, { token: ut })).json, DEFAULTS);
  assert.equal((await api(s.url, 'PUT', PATH, { token: ut, body: { sound: true } })).status, 200);
  const count = () => Number(sql(s, `SELECT count(*) AS n FROM user_preferences WHERE user_id = '${u.json.id}'`)[0].n);
  assert.equal(count(), 1);
  assert.equal((await api(s.url, 'DELETE', `/api/v1/users/${u.json.id}`, { token: tok.admin })).status, 200);
  assert.equal(count(), 0);
});
