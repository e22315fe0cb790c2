// CSV import in the panel (issue 13), headless Chromium against the real server (demo data):
// - Users page: a real file with problems is picked in the file input; the server refuses it
//   as a whole and every problem shows at its record (row number, the record's fields, the
//   field and issue); nothing is created. Then a good file: the new users are listed once with
//   a set-password link each (also as a downloaded CSV), and appear in the list live;
// - a link opens the panel's set-password form (no session), after which the user logs in;
// - Agents page: a file without a role column creates agents (default_role agent); their
//   cards and the header count follow live.
// Screenshots in tests/artifacts/browser_import/.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { api, login } from './lib/server.mjs';
import { goPage, launch, loginAs, shot, startPanelServer, tid, until } from './lib/browser.mjs';

const T = 'browser_import';

describe('web panel: CSV import of users and agents', { timeout: 240000 }, () => {
  let server;
  let b;
  let dir;
  let admin;
  before(async () => {
    server = await startPanelServer();
    admin = (await login(server.url, 'admin@acme.test')).access_token;
    dir = mkdtempSync(join(tmpdir(), 'sb-import-'));
    b = await launch();
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const total = async (path) => (await api(server.url, 'GET', path, { token: admin })).json.total;
  const file = (name, lines) => {
    const p = join(dir, name);
    writeFileSync(p, lines.join('\r\n') + '\r\n');
    return p;
  };

  it('Users page: problems at their rows and nothing written, then links once and a live list', { timeout: 120000 }, async () => {
    const users0 = await total('/api/v1/users?limit=1');
    const ctx = await b.newContext({ acceptDownloads: true });
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'users');
    await page.locator(`${tid('users-count')}[data-total="${users0}"]`).waitFor({ timeout: 10000 });

    // A file with problems.
    const bad = file('bad.csv', [
      'email,name,role',
      'imp-ok@acme.test,Fine Person,agent',
      'not-an-email,Bad Mail,agent',
      'imp-noname@acme.test,,viewer',
      'imp-boss@acme.test,Boss,super_admin',
      'admin@globex.test,"Taken, Already",agent',
    ]);
    await page.locator(tid('users-import')).click();
    await page.locator(`${tid('users-import-dialog')}[open]`).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'users-import-file', 'the dialog opens on the file input');
    await page.locator(tid('users-import-file')).setInputFiles(bad);
    await until(async () => /bad\.csv: 5 record/.test(await page.locator(tid('users-import-summary')).innerText()), { timeout: 5000 });
    assert.match(await page.locator(tid('users-import-summary')).innerText(), /bad\.csv: 5 record\(s\)/);
    await page.locator(tid('users-import-submit')).click();
    const report = page.locator(tid('import-problems'));
    await report.waitFor({ timeout: 15000 });
    assert.match(await page.locator(tid('import-error')).innerText(), /nothing was imported/);
    assert.equal(await report.getAttribute('data-rows'), '4');
    const issue = async (row, field) => page.locator(tid(`import-problem-${row}-${field}`)).getAttribute('data-issue');
    assert.equal(await issue(3, 'email'), 'invalid');
    assert.equal(await issue(4, 'name'), 'required');
    assert.equal(await issue(5, 'role'), 'forbidden');
    assert.equal(await issue(6, 'email'), 'taken');
    assert.equal(await page.locator(tid('import-problem-row-2')).count(), 0, 'the good record has no problem row');
    // Each problem is shown with its record as read from the file (quoted comma kept).
    assert.match(await page.locator(tid('import-problem-row-3')).innerText(), /not-an-email, Bad Mail, agent/);
    assert.match(await page.locator(tid('import-problem-row-6')).innerText(), /admin@globex\.test, Taken, Already, agent/);
    assert.match(await page.locator(tid('import-problem-row-6')).innerText(), /email: Already taken\./);
    await shot(page, T, 'problems');
    assert.equal(await total('/api/v1/users?limit=1'), users0, 'nothing was imported');
    assert.equal((await api(server.url, 'GET', '/api/v1/users?q=imp-ok', { token: admin })).json.total, 0);

    // The good file: created, links shown once, the list follows live.
    const good = file('good.csv', ['email,name,role', 'imp-ok@acme.test,Fine Person,agent', 'imp-two@acme.test,"Second, Person",viewer', 'imp-three@acme.test,Third Person,agent']);
    await page.locator(tid('users-import-file')).setInputFiles(good);
    await until(async () => /good\.csv: 3 record/.test(await page.locator(tid('users-import-summary')).innerText()), { timeout: 5000 });
    await page.locator(tid('users-import-submit')).click();
    await page.locator(`${tid('import-done')}[data-created="3"]`).waitFor({ timeout: 15000 });
    const links = await page.locator('[data-testid^="import-link-"]').evaluateAll((els) => els.map((e) => ({ href: e.href, token: e.dataset.token })));
    assert.equal(links.length, 3);
    for (const l of links) assert.ok(l.token.length >= 20 && l.href.endsWith(`#/reset?token=${encodeURIComponent(l.token)}`), l.href);
    await shot(page, T, 'done');
    // The download carries every user with link and token.
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.locator(tid('import-download-links')).click()]);
    assert.equal(dl.suggestedFilename(), 'imported-users.csv');
    const rows = readFileSync(await dl.path(), 'utf8').split('\r\n').filter(Boolean);
    assert.equal(rows[0], 'row,email,role,reset_link,reset_token,reset_expires_at');
    assert.equal(rows.length, 4);
    assert.ok(rows[1].startsWith('2,imp-ok@acme.test,agent,'));
    assert.ok(rows[1].includes(links[0].token));
    await page.locator(tid('users-import-close')).click();
    await page.locator(`${tid('users-import-dialog')}[open]`).waitFor({ state: 'detached' });
    // Live: the rows and the server's total (no reload).
    await page.locator(tid('users-table')).getByText('imp-two@acme.test').waitFor({ timeout: 15000 });
    await page.locator(`${tid('users-count')}[data-total="${users0 + 3}"]`).waitFor({ timeout: 15000 });
    // Opened again, the dialog is empty: the links were shown once.
    await page.locator(tid('users-import')).click();
    await page.locator(`${tid('users-import-dialog')}[open]`).waitFor();
    assert.equal(await page.locator('[data-testid^="import-link-"]').count(), 0);
    assert.equal(await page.locator(tid('users-import-text')).inputValue(), '');
    await page.locator(tid('users-import-cancel')).click();
    // The refused import is the only failed request the console reports.
    assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
    assert.equal(page.errors.length, 1);

    // The link sets the password (another browser, no session), then the user logs in.
    const other = await b.newContext();
    const p2 = await other.newPage();
    await p2.goto(links[1].href);
    await p2.locator(tid('reset-form')).waitFor({ timeout: 10000 });
    await p2.locator(tid('reset-password')).fill('short');
    await p2.locator(tid('reset-password-again')).fill('short');
    await p2.locator(tid('reset-submit')).click();
    await until(async () => /at least 8/.test(await p2.locator(tid('reset-error')).innerText()), { timeout: 5000 });
    assert.match(await p2.locator(tid('reset-error')).innerText(), /at least 8/);
    await p2.locator(tid('reset-password')).fill('imported-password-2');
    await p2.locator(tid('reset-password-again')).fill('imported-password-2');
    await p2.locator(tid('reset-submit')).click();
    await p2.locator(tid('reset-done')).waitFor({ timeout: 10000 });
    await shot(p2, T, 'password-set');
    const li = await api(server.url, 'POST', '/api/v1/auth/login', { body: { email: 'imp-two@acme.test', password: 'imported-password-2' } });
    assert.equal(li.status, 200, li.text);
    // The same link again: refused, said in words.
    await p2.goto(`${server.url}/#/login`);
    await p2.goto(links[1].href);
    await p2.locator(tid('reset-password')).fill('imported-password-3');
    await p2.locator(tid('reset-password-again')).fill('imported-password-3');
    await p2.locator(tid('reset-submit')).click();
    await until(async () => /invalid, used or expired/.test(await p2.locator(tid('reset-error')).innerText()), { timeout: 10000 });
    assert.match(await p2.locator(tid('reset-error')).innerText(), /invalid, used or expired/);
    await other.close();
    await ctx.close();
  });

  it('Agents page: a file without roles creates agents; cards and count follow live', { timeout: 90000 }, async () => {
    const agents0 = await total('/api/v1/agents?limit=1');
    const ctx = await b.newContext();
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await goPage(page, 'agents');
    await page.locator(`${tid('agents-count')}[data-total="${agents0}"]`).waitFor({ timeout: 10000 });
    await page.locator(tid('agents-import')).click();
    await page.locator(`${tid('agents-import-dialog')}[open]`).waitFor();
    // Pasted text this time; no role column: every record becomes an agent.
    await page.locator(tid('agents-import-text')).fill('email,name\r\nimp-agent1@acme.test,Aardvark Imported\r\nimp-agent2@acme.test,Aardwolf Imported\r\n');
    await page.locator(tid('agents-import-submit')).click();
    await page.locator(`${tid('import-done')}[data-created="2"]`).waitFor({ timeout: 15000 });
    assert.equal(await page.locator(tid('import-user-2')).locator('td').nth(1).innerText(), 'agent');
    await page.locator(tid('agents-import-close')).click();
    await page.locator(`${tid('agents-count')}[data-total="${agents0 + 2}"]`).waitFor({ timeout: 15000 });
    await page.locator(`${tid('agents-list')} .agent-name`, { hasText: 'Aardvark Imported' }).waitFor({ timeout: 15000 });
    const found = await api(server.url, 'GET', '/api/v1/agents?q=Aardwolf', { token: admin });
    assert.equal(found.json.total, 1);
    assert.equal(found.json.data[0].status, 'offline');
    await shot(page, T, 'agents');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });
});
