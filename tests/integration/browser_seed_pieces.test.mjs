// The original system's pieces in headless Chromium against the real server (demo data):
// - AgentStatusControl: quick-action status buttons on each card, by keyboard, optimistic and
//   rolled back (with an error toast) when the server cannot be reached;
// - ConnectionStatusIndicator sizes: md in the header, sm on the agents board, lg on the
//   realtime demo page;
// - notification preferences per user, kept on the server (/api/v1/me/preferences; the
//   localStorage `switchboard.notify.<user id>` only caches them for the first paint): a kind
//   switched off shows no toast, the choice survives a reload, another tab of the same browser
//   follows a change at once (both ways), a second browser context of the same user (empty
//   storage) gets it after login, another user keeps the defaults, and
//   "sound" marks live toasts as sounded;
// - live form validation (required, lengths, e-mail, expiry after start) and the server's
//   422 details at the field (no toast with machine codes);
// - the message edit form keeps the milliseconds of a date it did not change (no false
//   `starts_at` difference in the conflict dialog).
// Screenshots in tests/artifacts/browser_seed_pieces/.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, shot, sleep, startPanelServer, tid, until, waitConn } from './lib/browser.mjs';

const T = 'browser_seed_pieces';

describe('web panel: status control, indicator sizes, notification preferences, validation', { timeout: 300000 }, () => {
  let server;
  let b;
  let demo;
  let root;
  before(async () => {
    server = await startPanelServer();
    demo = await demoData(server.url);
    root = await rootApi(server.url);
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  const acmeAgent = (i = 0) => demo.agents.filter((a) => a.client_id === demo.clients.acme.id)[i];

  it('quick-action status buttons: keyboard, optimistic, pressed state follows the server', { timeout: 60000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'agents');
    const ag = acmeAgent(0);
    const row = page.locator(tid(`agent-row-${ag.id}`));
    await row.waitFor({ timeout: 15000 });
    const now = await row.getAttribute('data-status');
    const target = now === 'busy' ? 'away' : 'busy';
    // Four buttons, the current status pressed.
    for (const s of ['online', 'away', 'busy', 'offline']) {
      assert.equal(await page.locator(tid(`agent-quick-${ag.id}-${s}`)).getAttribute('aria-pressed'), s === now ? 'true' : 'false', s);
    }
    assert.equal(await page.locator(tid(`agent-quick-${ag.id}-${target}`)).innerText(), target);
    assert.equal(await page.locator(`${tid(`agent-row-${ag.id}`)} [role="group"]`).getAttribute('aria-label'), `Quick status for ${ag.display_name}`);
    // By keyboard: focus the button, press Enter.
    await page.locator(tid(`agent-quick-${ag.id}-${target}`)).focus();
    await page.keyboard.press('Enter');
    await page.locator(`${tid(`agent-row-${ag.id}`)}[data-status="${target}"]`).waitFor({ timeout: 10000 });
    await until(async () => (await root.get(`/api/v1/agents/${ag.id}`)).status === target, { timeout: 10000 });
    assert.equal((await root.get(`/api/v1/agents/${ag.id}`)).status, target);
    await page.locator(`${tid(`agent-quick-${ag.id}-${target}`)}[aria-pressed="true"]`).waitFor({ timeout: 10000 });
    // Space works too (a button), and a change from elsewhere moves the pressed button.
    await page.locator(tid(`agent-quick-${ag.id}-online`)).focus();
    await page.keyboard.press('Space');
    await until(async () => (await root.get(`/api/v1/agents/${ag.id}`)).status === 'online', { timeout: 10000 });
    await root.patch(`/api/v1/agents/${ag.id}`, { status: 'away' });
    await page.locator(`${tid(`agent-quick-${ag.id}-away`)}[aria-pressed="true"]`).waitFor({ timeout: 10000 });
    // A viewer gets no buttons (and a disabled select).
    const vctx = await b.newContext();
    const v = await loginAs(vctx, server.url, 'viewer@acme.test');
    await v.locator(tid(`agent-row-${ag.id}`)).waitFor({ timeout: 15000 });
    assert.equal(await v.locator(`[data-testid^="agent-quick-${ag.id}-"]`).count(), 0);
    assert.equal(await v.locator(tid(`agent-status-${ag.id}`)).isDisabled(), true);
    await shot(page, T, 'agents-quick');
    assert.deepEqual([...page.errors, ...v.errors], []);
    await ctx.close();
    await vctx.close();
  });

  it('connection indicator: md in the header, sm on the board, lg on the realtime page', { timeout: 40000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    assert.equal(await page.locator(tid('conn-status')).getAttribute('data-size'), 'md');
    await goPage(page, 'agents');
    const sm = page.locator(tid('conn-board-status'));
    await sm.waitFor();
    assert.equal(await sm.getAttribute('data-size'), 'sm');
    assert.equal(await sm.getAttribute('data-state'), 'connected');
    assert.equal(await page.locator(tid('conn-board-retry')).count(), 0, 'sm has no retry button');
    await goPage(page, 'realtime');
    const lg = page.locator(tid('conn-demo-status'));
    await lg.waitFor();
    assert.equal(await lg.getAttribute('data-size'), 'lg');
    assert.equal(await lg.getAttribute('data-state'), 'connected');
    // lg shows its explanation as text (not a tooltip), sized larger than the header's.
    assert.equal(await page.locator(tid('conn-demo-tooltip')).isVisible(), true);
    assert.match(await page.locator(tid('conn-demo-tooltip')).innerText(), /Realtime connected since/);
    const dot = async (sel) => page.locator(`${sel} .dot`).evaluate((e) => e.getBoundingClientRect().width);
    const [dMd, dLg] = [await dot(tid('conn-status')), await dot(tid('conn-demo-status'))];
    assert.ok(dLg > dMd, `lg dot ${dLg} > md dot ${dMd}`);
    // Every instance follows the same connection: unique tooltip ids.
    const ids = await page.evaluate(() => [...document.querySelectorAll('.conn [id]')].map((e) => e.id));
    assert.equal(new Set(ids).size, ids.length, `unique ids: ${ids}`);
    await shot(page, T, 'realtime-lg');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('notification preferences: per user on the server, a second context gets them, respected by live toasts, sound', { timeout: 90000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    const me = demo.users.find((u) => u.email === 'admin@acme.test');
    await goPage(page, 'settings');
    for (const k of ['message', 'status', 'connection']) assert.equal(await page.locator(tid(`notify-pref-${k}`)).isChecked(), true, k);
    assert.equal(await page.locator(tid('notify-pref-sound')).isChecked(), false);
    await page.locator(`${tid('notify-settings')}[data-source="server"]`).waitFor({ timeout: 10000 });
    await page.locator(tid('notify-pref-status')).uncheck();
    await page.locator(tid('notify-pref-sound')).check();
    const want = { message: true, status: false, connection: true, sound: true };
    const stored = await page.evaluate((id) => JSON.parse(localStorage.getItem(`switchboard.notify.${id}`)), me.id);
    assert.deepEqual(stored, want);
    // Saved on the server, for this user only.
    await page.locator(`${tid('notify-settings')}[data-state="saved"]`).waitFor({ timeout: 10000 });
    assert.match(await page.locator(tid('notify-sync')).innerText(), /Saved/);
    const adminApi = await rootApi(server.url, 'admin@acme.test');
    assert.deepEqual((await adminApi.get('/api/v1/me/preferences')).row, want);
    const agentApi = await rootApi(server.url, 'agent1@acme.test');
    const defaults = { message: true, status: true, connection: true, sound: false };
    assert.deepEqual((await agentApi.get('/api/v1/me/preferences')).row, defaults, 'another user untouched');

    // Another tab of the same browser (its own sign-in, the same storage) follows a change at
    // once, without a reload; so does the first tab when the other one changes it back.
    const tab2 = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(tab2, 'settings');
    await tab2.locator(`${tid('notify-settings')}[data-source="server"]`).waitFor({ timeout: 10000 });
    assert.equal(await tab2.locator(tid('notify-pref-status')).isChecked(), false);
    await page.locator(tid('notify-pref-message')).uncheck();
    assert.ok(await until(async () => !(await tab2.locator(tid('notify-pref-message')).isChecked()), { timeout: 5000 }), 'the other tab follows');
    assert.ok(await until(async () => (await adminApi.get('/api/v1/me/preferences')).row.message === false, { timeout: 10000 }));
    await tab2.locator(tid('notify-pref-message')).check();
    assert.ok(await until(async () => await page.locator(tid('notify-pref-message')).isChecked(), { timeout: 10000 }), 'the first tab follows back');
    assert.ok(await until(async () => (await adminApi.get('/api/v1/me/preferences')).row.message === true, { timeout: 10000 }));
    // Settled in both: saved, or read again from the server (a tab brought to the front asks).
    for (const t of [page, tab2]) {
      const settled = async () => ['saved', 'idle'].includes(await t.locator(tid('notify-settings')).getAttribute('data-state'));
      assert.ok(await until(settled, { timeout: 10000 }), 'settled');
    }
    assert.equal(await tab2.locator(tid('notify-pref-message')).isChecked(), true);
    assert.equal(await page.locator(tid('notify-pref-message')).isChecked(), true);
    assert.deepEqual(tab2.errors, []);
    await tab2.close();

    // A second browser context of the same user (nothing in its storage) gets them after login.
    const ctx2 = await b.newContext();
    const p2 = await loginAs(ctx2, server.url, 'admin@acme.test');
    await goPage(p2, 'settings');
    await p2.locator(`${tid('notify-settings')}[data-source="server"]`).waitFor({ timeout: 10000 });
    assert.equal(await p2.locator(tid('notify-pref-status')).isChecked(), false);
    assert.equal(await p2.locator(tid('notify-pref-sound')).isChecked(), true);
    assert.equal(await p2.locator(tid('notify-pref-message')).isChecked(), true);
    // A change there reaches the first context at its next load (here: a reload).
    await p2.locator(tid('notify-pref-connection')).uncheck();
    await p2.locator(`${tid('notify-settings')}[data-state="saved"]`).waitFor({ timeout: 10000 });
    assert.deepEqual((await adminApi.get('/api/v1/me/preferences')).row, { ...want, connection: false });
    await p2.locator(tid('notify-pref-connection')).check();
    await p2.locator(`${tid('notify-settings')}[data-state="saved"]`).waitFor({ timeout: 10000 });
    await until(async () => (await adminApi.get('/api/v1/me/preferences')).row.connection === true, { timeout: 10000 });
    assert.deepEqual(p2.errors, []);
    await ctx2.close();

    // A status change (no toast) then a message (a toast, sounded).
    const ag = acmeAgent(1);
    const cur = (await root.get(`/api/v1/agents/${ag.id}`)).status;
    await root.patch(`/api/v1/agents/${ag.id}`, { status: cur === 'busy' ? 'online' : 'busy' });
    await sleep(300);
    const title = `Prefs check ${Date.now()}`;
    await root.post('/api/v1/messages', { title, body: 'x', priority: 'high', client_id: demo.clients.acme.id });
    const toast = page.locator(tid('toast'), { hasText: title });
    await toast.waitFor({ timeout: 10000 });
    assert.equal(await toast.getAttribute('data-sound'), 'true');
    assert.equal(await page.locator(`${tid('toast')}[data-kind="status"]`).count(), 0, 'no status toast');
    assert.equal(await page.locator(`${tid('toast')}[data-kind="summary"]`).count(), 0, 'no summary either');

    // A reload keeps the choices (same user).
    await page.reload();
    await page.locator(`${tid('notify-settings')}[data-source="server"]`).waitFor({ timeout: 10000 });
    assert.equal(await page.locator(tid('notify-pref-status')).isChecked(), false);
    assert.equal(await page.locator(tid('notify-pref-sound')).isChecked(), true);
    assert.equal(await page.locator(tid('notify-pref-connection')).isChecked(), true);

    // Another user in the same browser starts from the defaults.
    await page.locator(tid('logout')).click();
    await page.locator(tid('login-email')).fill('agent1@acme.test');
    await page.locator(tid('login-password')).fill('demo-password');
    await page.locator(tid('login-submit')).click();
    await waitConn(page, 'connected');
    await goPage(page, 'settings');
    await page.locator(`${tid('notify-settings')}[data-source="server"]`).waitFor({ timeout: 10000 });
    assert.equal(await page.locator(tid('notify-pref-status')).isChecked(), true);
    assert.equal(await page.locator(tid('notify-pref-sound')).isChecked(), false);
    // The agent's status toasts do show (default on), without sound.
    await goPage(page, 'agents');
    const cur2 = (await root.get(`/api/v1/agents/${ag.id}`)).status;
    await root.patch(`/api/v1/agents/${ag.id}`, { status: cur2 === 'away' ? 'online' : 'away' });
    const st = page.locator(`${tid('toast')}[data-kind="status"], ${tid('toast')}[data-kind="summary"]`).first();
    await st.waitFor({ timeout: 10000 });
    assert.equal(await st.getAttribute('data-sound'), 'false');
    await shot(page, T, 'settings');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('live validation as you type, and the server 422 at the field', { timeout: 60000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    await page.locator(`${tid('message-create')} summary`).click();
    const title = page.locator(tid('message-new-title'));
    const err = (k) => page.locator(tid(`message-new-${k}-error`));
    // Nothing shown before typing.
    assert.equal(await err('title').getAttribute('data-error'), 'false');
    await title.fill('x');
    await title.fill('');
    await page.locator(`${tid('message-new-title-error')}[data-error="true"]`).waitFor();
    assert.match(await err('title').innerText(), /A title is required/);
    assert.equal(await title.getAttribute('aria-invalid'), 'true');
    await title.fill('Valid title');
    await page.locator(`${tid('message-new-title-error')}[data-error="false"]`).waitFor({ state: 'attached' });
    assert.equal(await title.getAttribute('aria-invalid'), 'false');
    // Expiry before the start: said at once at the expiry field.
    await page.locator(tid('message-new-starts')).fill('2099-05-02T10:00:00');
    await page.locator(tid('message-new-expires')).fill('2099-05-01T10:00:00');
    await page.locator(`${tid('message-new-expires_at-error')}[data-error="true"]`).waitFor();
    assert.match(await err('expires_at').innerText(), /after the start/);
    // Submitting with errors sends nothing and focuses the first bad field (the body: empty).
    const before = (await root.get('/api/v1/messages?limit=1')).total;
    await page.locator(tid('message-new-submit')).click();
    await page.locator(`${tid('message-new-body-error')}[data-error="true"]`).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'message-new-body');
    assert.equal((await root.get('/api/v1/messages?limit=1')).total, before);

    // The server's own check (an expiry in the past, no start: the start is now) comes back as
    // a 422 and is shown at the field, not as a toast with codes.
    await page.locator(tid('message-new-body')).fill('text');
    await page.locator(tid('message-new-starts')).fill('');
    await page.locator(tid('message-new-expires')).fill('2001-01-01T10:00:00');
    await page.locator(tid('message-new-submit')).click();
    await page.locator(`${tid('message-new-expires_at-error')}[data-error="true"]`).waitFor({ timeout: 10000 });
    assert.match(await err('expires_at').innerText(), /Must be after the start/);
    assert.doesNotMatch(await err('expires_at').innerText(), /must_be/);
    assert.equal(await page.locator(`${tid('toast')}[data-kind="error"]`).count(), 0);
    assert.equal((await root.get('/api/v1/messages?limit=1')).total, before);
    // Editing the field clears the server's message.
    await page.locator(tid('message-new-expires')).fill('');
    await page.locator(`${tid('message-new-expires_at-error')}[data-error="false"]`).waitFor({ state: 'attached' });
    await shot(page, T, 'message-validation');

    // Users: e-mail format and password length as you type; a taken e-mail from the server.
    await goPage(page, 'users');
    await page.locator(`${tid('user-create')} summary`).click();
    await page.locator(tid('user-new-email')).fill('not-an-email');
    await page.locator(`${tid('user-new-email-error')}[data-error="true"]`).waitFor();
    assert.match(await page.locator(tid('user-new-email-error')).innerText(), /e-mail/);
    await page.locator(tid('user-new-password')).fill('short');
    await page.locator(`${tid('user-new-password-error')}[data-error="true"]`).waitFor();
    assert.match(await page.locator(tid('user-new-password-error')).innerText(), /At least 8/);
    await page.locator(tid('user-new-name')).fill('x');
    await page.locator(tid('user-new-name')).fill('');
    await page.locator(`${tid('user-new-name-error')}[data-error="true"]`).waitFor();
    await page.locator(tid('user-new-name')).fill('Second Agent One');
    await page.locator(tid('user-new-email')).fill('agent1@acme.test');
    await page.locator(tid('user-new-password')).fill('a-long-password-1');
    await page.locator(`${tid('user-new-email-error')}[data-error="false"]`).waitFor({ state: 'attached' });
    await page.locator(tid('user-new-submit')).click();
    await page.locator(`${tid('user-new-email-error')}[data-error="true"]`).waitFor({ timeout: 10000 });
    assert.match(await page.locator(tid('user-new-email-error')).innerText(), /Already taken/);
    assert.equal(await page.locator(`${tid('toast')}[data-kind="error"]`).count(), 0);
    await shot(page, T, 'user-validation');
    // The browser logs the two refused requests (422, 409); nothing else.
    assert.deepEqual(page.errors.filter((e) => !/status of (422|409)/.test(e)), []);
    await ctx.close();
  });

  it('message edit: a server 422 reopens the form with the typed values and the message at the field', { timeout: 60000 }, async () => {
    const starts = new Date(Date.now() - 3600e3).toISOString();
    const m = (await root.post('/api/v1/messages', { title: `Edit 422 ${Date.now()}`, body: 'b', priority: 'normal', client_id: demo.clients.acme.id, starts_at: starts })).row;
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    await page.locator(tid(`message-edit-${m.id}`)).click();
    // No start in the form (so no check here), an expiry before the stored start: the server's.
    await page.locator(tid(`message-edit-${m.id}-title`)).fill('Typed title');
    await page.locator(tid(`message-edit-${m.id}-starts`)).fill('');
    const past = new Date(Date.now() - 2 * 3600e3);
    const p2 = (n) => String(n).padStart(2, '0');
    await page.locator(tid(`message-edit-${m.id}-expires`)).fill(`${past.getFullYear()}-${p2(past.getMonth() + 1)}-${p2(past.getDate())}T${p2(past.getHours())}:${p2(past.getMinutes())}:${p2(past.getSeconds())}`);
    await page.locator(tid(`message-edit-${m.id}-submit`)).click();
    const errSel = `${tid(`message-edit-${m.id}-expires_at-error`)}[data-error="true"]`;
    await page.locator(errSel).waitFor({ timeout: 10000 });
    assert.match(await page.locator(tid(`message-edit-${m.id}-expires_at-error`)).innerText(), /Must be after the start/);
    assert.equal(await page.locator(tid(`message-edit-${m.id}-title`)).inputValue(), 'Typed title', 'what was typed is kept');
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), `message-edit-${m.id}-expires`);
    assert.equal(await page.locator(`${tid('toast')}[data-kind="error"]`).count(), 0, 'no toast with codes');
    assert.equal((await root.get(`/api/v1/messages/${m.id}`)).title, m.title, 'nothing saved');
    // Fixed and saved: the form closes, the change is there.
    await page.locator(tid(`message-edit-${m.id}-expires`)).fill('');
    await page.locator(tid(`message-edit-${m.id}-submit`)).click();
    await until(async () => (await root.get(`/api/v1/messages/${m.id}`)).title === 'Typed title', { timeout: 10000 });
    await page.locator(tid(`message-edit-${m.id}-title`)).waitFor({ state: 'detached', timeout: 5000 });
    assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
    await ctx.close();
  });

  it('message edit keeps the milliseconds: no false starts_at difference on a conflict', { timeout: 60000 }, async () => {
    const starts = new Date(Date.now() - 3600e3);
    starts.setUTCMilliseconds(123);
    const expires = new Date(Date.now() + 86400e3);
    expires.setUTCMilliseconds(456);
    const m = (await root.post('/api/v1/messages', { title: `Millis ${Date.now()}`, body: 'before', priority: 'normal', client_id: demo.clients.acme.id, starts_at: starts.toISOString(), expires_at: expires.toISOString() })).row;
    assert.match(m.starts_at, /\.123/);
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'messages');
    await page.locator(tid(`message-edit-${m.id}`)).click();
    await page.locator(tid(`message-edit-${m.id}-title`)).fill(`${m.title} (edited)`);
    // Someone else changes the text meanwhile.
    await root.patch(`/api/v1/messages/${m.id}`, { body: 'theirs' });
    await page.locator(tid(`message-edit-${m.id}-submit`)).click();
    await page.locator(`${tid('conflict-dialog')}[open]`).waitFor({ timeout: 10000 });
    assert.equal(await page.locator(tid('conflict-mine-title')).count(), 1);
    assert.equal(await page.locator(tid('conflict-theirs-body')).innerText(), 'theirs');
    assert.equal(await page.locator(tid('conflict-mine-starts_at')).count(), 0, 'starts_at is not a difference');
    assert.equal(await page.locator(tid('conflict-mine-expires_at')).count(), 0, 'expires_at is not a difference');
    await page.locator(tid('conflict-overwrite')).click();
    await until(async () => (await root.get(`/api/v1/messages/${m.id}`)).title === `${m.title} (edited)`, { timeout: 10000 });
    const after1 = await root.get(`/api/v1/messages/${m.id}`);
    assert.equal(after1.starts_at, m.starts_at, 'starts_at kept to the millisecond');
    assert.equal(after1.expires_at, m.expires_at, 'expires_at kept to the millisecond');
    assert.deepEqual(page.errors.filter((e) => !/status of 409/.test(e)), [], 'only the expected 409 in the console');
    await ctx.close();
  });

  // Last: stops and restarts the server.
  it('quick status change rolls back with an error toast when the server cannot be reached', { timeout: 60000 }, async () => {
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'agents');
    const ag = acmeAgent(2);
    await page.locator(tid(`agent-row-${ag.id}`)).waitFor({ timeout: 15000 });
    const was = await page.locator(tid(`agent-row-${ag.id}`)).getAttribute('data-status');
    const target = was === 'offline' ? 'online' : 'offline';
    await server.stop();
    await page.locator(tid(`agent-quick-${ag.id}-${target}`)).click();
    await page.locator(`${tid('toast')}[data-kind="error"]`, { hasText: 'Change rolled back' }).waitFor({ timeout: 15000 });
    await page.locator(`${tid(`agent-row-${ag.id}`)}[data-status="${was}"]`).waitFor({ timeout: 5000 });
    assert.equal(await page.locator(tid(`agent-quick-${ag.id}-${was}`)).getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator(tid(`agent-row-${ag.id}`)).evaluate((e) => e.classList.contains('pending')), false);
    await server.start(server.port);
    await ctx.close();
  });
});
