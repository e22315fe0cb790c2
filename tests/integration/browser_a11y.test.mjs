// Accessibility of the web panel in headless Chromium against the real server:
// - axe-core (the root package.json's devDependency) audits every page (login, dashboard,
//   agents, messages, clients, users, audit, realtime as the super admin; the agent's landing
//   page as agent1@acme.test) at 1280x800 in the light and the dark colour scheme, with the
//   states a person reaches (open forms and panels, a critical message, toasts, the tooltip),
//   at phone width (390x844), and the reconnecting indicator and the conflict dialog. Rules:
//   the WCAG 2.0/2.1 A and AA tags plus axe's best practices; no violation of any impact.
// - keyboard: the login form in Tab order and submitted with Enter; the skip link; every nav
//   link reachable by Tab with a visible focus indicator (3:1 against the nav); panels and edit
//   forms take the focus and give it back on Escape; the conflict dialog takes the focus,
//   keeps it inside and closes with Escape.
// The panel's CSP (script-src 'self') blocks page.addScriptTag({content}) (an inline script),
// so axe.min.js goes in through page.evaluate (DevTools protocol, not subject to the CSP).
// Screenshots in tests/artifacts/browser_a11y/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import { demoData, goPage, launch, loginAs, rootApi, shot, startPanelServer, tid, until, waitConn } from './lib/browser.mjs';

const T = 'browser_a11y';
const AXE_SOURCE = readFileSync(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const SCHEMES = ['light', 'dark'];
const PAGES = ['dashboard', 'agents', 'messages', 'clients', 'users', 'audit', 'realtime', 'settings'];

// What shows that a page has its data (as in browser_login).
const READY = {
  dashboard: `${tid('dash-live')}[data-state="SUBSCRIBED"]`,
  agents: `${tid('agents-list')} [data-testid^="agent-row-"]`,
  messages: `${tid('messages-list')} [data-testid^="message-row-"]`,
  clients: `${tid('clients-table')} [data-testid^="client-row-"]`,
  users: `${tid('users-table')} [data-testid^="user-row-"]`,
  audit: `${tid('audit-table')} [data-testid^="audit-row-"]`,
  realtime: tid('rt-subscribe'),
  settings: tid('notify-settings'),
};

// Runs axe-core on the page; returns its violations as plain objects tagged with `where`.
async function axeRun(page, where) {
  if ((await page.evaluate(() => typeof window.axe)) !== 'object') await page.evaluate(AXE_SOURCE);
  const r = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
    [...WCAG, 'best-practice']
  );
  return r.violations.map((v) => ({
    where,
    id: v.id,
    impact: v.impact,
    wcag: v.tags.some((t) => WCAG.includes(t)),
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: (n.failureSummary || '').replace(/\s*\n\s*/g, ' ') })),
  }));
}

function fmt(list) {
  return list
    .map((v) => `[${v.where}] ${v.id} (${v.impact}${v.wcag ? ', WCAG' : ', best practice'}): ${v.help}\n${v.nodes.map((n) => `    ${n.target}: ${n.summary}`).join('\n')}`)
    .join('\n');
}

// Prints every violation and asserts none: serious/critical first, then moderate/minor.
function assertClean(found) {
  if (found.length) console.log(`axe violations:\n${fmt(found)}`);
  const severe = found.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.equal(severe.length, 0, `serious or critical axe violations:\n${fmt(severe)}`);
  assert.equal(found.length, 0, `moderate or minor axe violations:\n${fmt(found)}`);
}

// The page has no horizontal scrolling (reflow: usable at this width without it).
async function assertNoHScroll(page, where) {
  const w = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, view: window.innerWidth }));
  assert.ok(w.scroll <= w.view, `${where}: the page scrolls sideways (${w.scroll} > ${w.view})`);
}

// What has the focus: its data-testid, else tag#id.class, else "body".
const focused = (page) =>
  page.evaluate(() => {
    const e = document.activeElement;
    if (!e || e === document.body) return 'body';
    return e.dataset.testid || `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ')[0]}` : ''}`;
  });

// Relative luminance contrast of two CSS rgb()/rgba() colours (alpha ignored).
function contrast(c1, c2) {
  const lum = (c) => {
    const [r, g, b] = c.match(/[\d.]+/g).slice(0, 3).map((x) => {
      const v = Number(x) / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(c1), lum(c2)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}

// Opens a nav page (through the menu button at phone width) and waits for its data.
async function openPage(page, name) {
  if (!(await page.locator(tid(`nav-${name}`)).isVisible())) await page.locator(tid('nav-toggle')).click();
  await goPage(page, name);
  await page.locator(READY[name]).first().waitFor({ timeout: 10000 });
  await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
}

describe('web panel: accessibility (axe-core, keyboard)', { timeout: 300000 }, () => {
  let server;
  let b;
  let demo;
  let root;
  before(async () => {
    server = await startPanelServer();
    b = await launch();
    demo = await demoData(server.url);
    root = await rootApi(server.url);
    // A critical message (the dashboard's flag, the critical pill) and an expired one.
    await root.post('/api/v1/messages', { title: 'A11y critical', body: 'Critical message for the audit', priority: 'critical' });
    const hour = 3600e3;
    await root.post('/api/v1/messages', {
      title: 'A11y expired',
      body: 'An expired message',
      priority: 'high',
      starts_at: new Date(Date.now() - 2 * hour).toISOString(),
      expires_at: new Date(Date.now() - hour).toISOString(),
    });
  });
  after(async () => {
    if (b) await b.close();
    if (server) await server.cleanup();
  });

  for (const scheme of SCHEMES) {
    it(`axe: every page at 1280x800, ${scheme} colour scheme`, { timeout: 90000 }, async () => {
      const found = [];
      const ctx = await b.newContext({ viewport: DESKTOP, colorScheme: scheme });
      const login = await ctx.newPage();
      await login.goto(`${server.url}/#/login`);
      await login.locator(tid('login-form')).waitFor();
      assert.equal(await login.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), scheme === 'dark');
      found.push(...(await axeRun(login, `${scheme} login`)));
      await shot(login, T, `${scheme}-login`);
      await login.locator(tid('login-email')).fill('nobody@acme.test');
      await login.locator(tid('login-password')).fill('wrong-password');
      await login.locator(tid('login-submit')).click();
      await login.locator(tid('login-error')).waitFor({ state: 'visible' });
      found.push(...(await axeRun(login, `${scheme} login (error)`)));
      await login.close();

      const page = await loginAs(ctx, server.url, 'root@demo.test');
      for (const name of PAGES) {
        await openPage(page, name);
        if (name === 'dashboard') await page.locator(`${tid('dash-flag-critical_message_active')}[data-active="true"]`).waitFor({ timeout: 6000 });
        found.push(...(await axeRun(page, `${scheme} ${name}`)));
        await assertNoHScroll(page, `${scheme} ${name}`);
        await shot(page, T, `${scheme}-${name}`);
      }

      // The states behind buttons: panels, forms, details.
      await openPage(page, 'agents');
      await page.locator('[data-testid^="agent-history-"]:not([data-testid^="agent-history-panel-"])').first().click();
      await page.locator('[data-testid^="agent-history-panel-"] table').waitFor({ timeout: 5000 });
      found.push(...(await axeRun(page, `${scheme} agents (history panel)`)));
      await shot(page, T, `${scheme}-agents-history`);

      await openPage(page, 'messages');
      await page.locator(`${tid('message-create')} summary`).click();
      await page.locator('li[data-testid^="message-row-"] [data-testid^="message-edit-"]').first().click();
      await page.locator('form[data-testid^="message-edit-"]').waitFor({ timeout: 3000 });
      await page.locator('li[data-testid^="message-row-"][data-state="expired"]').first().waitFor({ timeout: 5000 });
      found.push(...(await axeRun(page, `${scheme} messages (new and edit forms)`)));
      await shot(page, T, `${scheme}-messages-forms`);

      await openPage(page, 'clients');
      await page.locator(`${tid('client-create')} summary`).click();
      await page.locator(tid('client-new-name')).fill('x');
      await page.locator(tid('client-new-name')).fill(''); // a field error shown
      await page.locator(tid('client-rename-' + demo.clients.acme.id)).click();
      found.push(...(await axeRun(page, `${scheme} clients (new form with an error, rename)`)));
      await page.locator(tid('client-delete-' + demo.clients.globex.id)).click(); // the typed confirmation
      await page.locator(`${tid('client-impact')}[data-loaded="true"]`).waitFor({ timeout: 5000 });
      found.push(...(await axeRun(page, `${scheme} clients (delete dialog)`)));
      await shot(page, T, `${scheme}-clients-forms`);
      await page.keyboard.press('Escape');
      await page.locator(tid('client-status-' + demo.clients.globex.id)).selectOption('suspended');
      await page.locator(`${tid('client-suspend-dialog')}[open]`).waitFor();
      found.push(...(await axeRun(page, `${scheme} clients (suspend dialog)`)));
      await page.locator(tid('client-suspend-cancel')).click();

      await openPage(page, 'users');
      await page.locator(`${tid('user-create')} summary`).click();
      await page.locator('[data-testid^="user-edit-"]:not([disabled])').first().click();
      await page.locator('form[data-testid^="user-edit-form-"]').waitFor({ timeout: 3000 });
      found.push(...(await axeRun(page, `${scheme} users (new and edit forms)`)));
      await shot(page, T, `${scheme}-users-forms`);
      await page.keyboard.press('Escape');
      await page.locator('[data-testid^="user-reset-"]:not([disabled])').first().click();
      await page.locator(`${tid('reset-token-dialog')}[open] ${tid('reset-token-value')}, ${tid('reset-token-dialog')}[open] ${tid('reset-token-error')}`).first().waitFor({ timeout: 5000 });
      found.push(...(await axeRun(page, `${scheme} users (reset token dialog)`)));
      await page.locator(tid('reset-token-close')).click();

      await openPage(page, 'audit');
      await page.locator('[data-testid^="audit-details-"]').first().click();
      await page.locator(tid('audit-verify')).click();
      await page.locator(`${tid('audit-verify-result')}[data-ok="true"]`).waitFor({ timeout: 5000 });
      found.push(...(await axeRun(page, `${scheme} audit (details, verified)`)));
      await shot(page, T, `${scheme}-audit-details`);

      await openPage(page, 'realtime');
      await page.locator(tid('rt-subscribe')).click();
      await page.locator(`${tid('rt-sub-status')}[data-state="SUBSCRIBED"]`).waitFor({ timeout: 5000 });
      await page.locator(tid('bc-join')).click();
      await page.locator(`${tid('bc-status')}[data-state="SUBSCRIBED"]`).waitFor({ timeout: 5000 });
      await page.locator(tid('bc-send')).click();
      await page.locator(tid('bc-received-item')).first().waitFor({ timeout: 5000 });
      const ag = demo.agents[0];
      await root.patch(`/api/v1/agents/${ag.id}`, { status: scheme === 'dark' ? 'away' : 'busy', reason: 'a11y' });
      await root.post('/api/v1/messages', { title: `A11y toast ${scheme}`, body: 'A toast', priority: 'high' });
      await page.locator(tid('rt-event-item')).first().waitFor({ timeout: 5000 });
      await page.locator(tid('toast')).first().waitFor({ timeout: 5000 });
      await page.locator(`${tid('conn-status')} .conn-main`).focus(); // the tooltip shows on focus
      await page.locator(tid('conn-tooltip')).waitFor({ state: 'visible', timeout: 2000 });
      found.push(...(await axeRun(page, `${scheme} realtime (subscribed, toast, tooltip)`)));
      await shot(page, T, `${scheme}-realtime-active`);
      assert.deepEqual(page.errors, []);

      // The agent's landing page.
      const ctx2 = await b.newContext({ viewport: DESKTOP, colorScheme: scheme });
      const agent = await loginAs(ctx2, server.url, 'agent1@acme.test');
      assert.match(agent.url(), /#\/agents$/);
      await agent.locator(READY.agents).first().waitFor();
      await agent.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {});
      found.push(...(await axeRun(agent, `${scheme} agent landing`)));
      await shot(agent, T, `${scheme}-agent-landing`);
      assert.deepEqual(agent.errors, []);
      await ctx.close();
      await ctx2.close();
      assertClean(found);
    });
  }

  it('axe: every page at phone width (390x844), light and dark', { timeout: 90000 }, async () => {
    const found = [];
    for (const scheme of SCHEMES) {
      const ctx = await b.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, colorScheme: scheme });
      const page = await loginAs(ctx, server.url, 'root@demo.test');
      await page.locator(tid('nav-toggle')).click();
      await page.locator(tid('nav-agents')).waitFor({ state: 'visible' });
      assert.equal(await page.locator(tid('nav-toggle')).getAttribute('aria-expanded'), 'true');
      found.push(...(await axeRun(page, `${scheme} phone menu`)));
      await shot(page, T, `${scheme}-phone-menu`);
      for (const name of PAGES) {
        await openPage(page, name);
        found.push(...(await axeRun(page, `${scheme} phone ${name}`)));
        await assertNoHScroll(page, `${scheme} phone ${name}`);
        await shot(page, T, `${scheme}-phone-${name}`);
      }
      await openPage(page, 'agents');
      await page.locator('[data-testid^="agent-history-"]:not([data-testid^="agent-history-panel-"])').first().click();
      await page.locator('[data-testid^="agent-history-panel-"] table').waitFor({ timeout: 5000 });
      found.push(...(await axeRun(page, `${scheme} phone agents (history panel)`)));
      await assertNoHScroll(page, `${scheme} phone agents (history panel)`);
      await shot(page, T, `${scheme}-phone-agents-history`);
      assert.deepEqual(page.errors, []);
      await ctx.close();
    }
    assertClean(found);
  });

  it('axe: the reconnecting indicator (light and dark)', { timeout: 40000 }, async () => {
    const ctx = await b.newContext({ viewport: DESKTOP });
    // Every realtime socket is closed at once: the panel keeps reconnecting.
    await ctx.routeWebSocket(/\/realtime\/v1/, (ws) => ws.close());
    const page = await loginAs(ctx, server.url, 'admin@acme.test', { waitConnected: false });
    await waitConn(page, 'reconnecting', 10000);
    await page.locator(tid('conn-retry')).waitFor({ state: 'visible', timeout: 5000 });
    const found = [];
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      found.push(...(await axeRun(page, `${scheme} reconnecting`)));
      await shot(page, T, `${scheme}-reconnecting`);
    }
    await ctx.close();
    assertClean(found);
  });

  it('keyboard: the login form in Tab order, Enter submits', { timeout: 30000 }, async () => {
    const ctx = await b.newContext({ viewport: DESKTOP });
    const page = await ctx.newPage();
    await page.goto(`${server.url}/#/login`);
    await page.locator(tid('login-form')).waitFor();
    assert.equal(await page.title(), 'Sign in · switchboard');
    const order = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      order.push(await focused(page));
    }
    assert.deepEqual(order, ['login-email', 'login-password', 'login-submit']);
    // Labels: each field is named by its visible label.
    assert.equal(await page.getByLabel('Email').getAttribute('data-testid'), 'login-email');
    assert.equal(await page.getByLabel('Password').getAttribute('data-testid'), 'login-password');
    // Type as a person does: Tab to each field, Enter in the password field submits.
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(page), 'login-email');
    await page.keyboard.type('admin@acme.test');
    await page.keyboard.press('Tab');
    await page.keyboard.type('demo-password');
    await page.keyboard.press('Enter');
    await page.locator(tid('current-user')).waitFor({ state: 'attached', timeout: 10000 });
    await until(async () => /#\/dashboard$/.test(page.url()));
    assert.match(page.url(), /#\/dashboard$/);
    await shot(page, T, 'keyboard-login-done');
    await ctx.close();
  });

  it('keyboard: skip link, every nav link reachable by Tab with a visible focus indicator', { timeout: 40000 }, async () => {
    for (const scheme of SCHEMES) {
      const ctx = await b.newContext({ viewport: DESKTOP, colorScheme: scheme });
      const page = await loginAs(ctx, server.url, 'root@demo.test');
      await page.locator(tid('page-dashboard')).waitFor();
      // After a route change the focus is on <main> (the page's start for screen readers).
      await until(async () => (await focused(page)) === 'page-dashboard', { timeout: 2000 });
      assert.equal(await focused(page), 'page-dashboard');
      const navIds = await page.locator('nav [data-testid^="nav-"]').evaluateAll((els) => els.map((e) => e.dataset.testid));
      assert.deepEqual(navIds, PAGES.map((p) => `nav-${p}`));

      // Tab onwards from <main>: through the page, then (past the end, via the browser's own
      // UI: body) the skip link, the header and the nav links in order.
      const seen = [];
      const styles = {};
      for (let i = 0; i < 60 && !navIds.every((id) => seen.includes(id)); i++) {
        await page.keyboard.press('Tab');
        const f = await focused(page);
        seen.push(f);
        if (f.startsWith('nav-')) {
          styles[f] = await page.evaluate(() => {
            const e = document.activeElement;
            const cs = getComputedStyle(e);
            const navBg = getComputedStyle(e.closest('nav')).backgroundColor;
            return { outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`, outlineStyle: cs.outlineStyle, outlineWidth: parseFloat(cs.outlineWidth), outlineColor: cs.outlineColor, shadow: cs.boxShadow, visible: e.matches(':focus-visible'), navBg };
          });
        }
      }
      const navSeen = seen.filter((f) => f.startsWith('nav-'));
      assert.deepEqual(navSeen, navIds, `every nav link by Tab, in order (tab stops: ${seen.join(', ')})`);
      assert.ok(seen.indexOf('a.skip') >= 0 && seen.indexOf('a.skip') < seen.indexOf(navIds[0]), `the skip link comes before the nav (${seen.join(', ')})`);
      // Unfocused, the same links have no outline or shadow: the indicator is the difference.
      await page.locator(tid('page-dashboard')).focus();
      for (const id of navIds) {
        const rest = await page.locator(tid(id)).evaluate((e) => {
          const cs = getComputedStyle(e);
          return { outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`, shadow: cs.boxShadow };
        });
        const st = styles[id];
        assert.ok(st.visible, `${scheme} ${id}: :focus-visible matches after Tab`);
        assert.ok(st.outline !== rest.outline || st.shadow !== rest.shadow, `${scheme} ${id}: focus changes outline or box-shadow (${JSON.stringify(st)} vs ${JSON.stringify(rest)})`);
        assert.ok((st.outlineStyle !== 'none' && st.outlineWidth >= 2) || st.shadow !== 'none', `${scheme} ${id}: focus indicator at least 2px (${st.outline})`);
        if (st.outlineStyle !== 'none') {
          const c = contrast(st.outlineColor, st.navBg);
          assert.ok(c >= 3, `${scheme} ${id}: focus outline ${st.outlineColor} on ${st.navBg} has contrast ${c.toFixed(2)} < 3`);
        }
      }
      // The skip link moves the focus to the page's <main>.
      await page.keyboard.press('Shift+Tab'); // back into the nav
      for (let i = 0; i < 20 && (await focused(page)) !== 'a.skip'; i++) await page.keyboard.press('Shift+Tab');
      assert.equal(await focused(page), 'a.skip');
      assert.ok(await page.locator('a.skip').isVisible(), 'the skip link shows when focused');
      await shot(page, T, `${scheme}-keyboard-skip-link`);
      await page.keyboard.press('Enter');
      assert.equal(await focused(page), 'page-dashboard');
      // A nav link is followed with Enter.
      await page.locator(tid('nav-agents')).focus();
      await page.keyboard.press('Enter');
      await page.locator(tid('page-agents')).waitFor({ timeout: 5000 });
      await until(async () => (await focused(page)) === 'page-agents', { timeout: 2000 });
      assert.equal(await focused(page), 'page-agents', 'focus on the new page');
      assert.equal(await page.title(), 'Agents · switchboard');
      await page.locator(tid('nav-users')).focus();
      await shot(page, T, `${scheme}-keyboard-nav-focus`);
      assert.deepEqual(page.errors, []);
      await ctx.close();
    }
  });

  it('keyboard: panels and edit forms take the focus and give it back on Escape', { timeout: 40000 }, async () => {
    const ctx = await b.newContext({ viewport: DESKTOP });
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    // Agents: the statistics panel opens with the focus in it; Escape closes it.
    await openPage(page, 'agents');
    const btn = page.locator('[data-testid^="agent-history-"]:not([data-testid^="agent-history-panel-"])').first();
    const btnId = await btn.getAttribute('data-testid');
    assert.match(await btn.getAttribute('aria-label'), /^Statistics & history of /);
    await btn.focus();
    await page.keyboard.press('Enter');
    const panel = page.locator('[data-testid^="agent-history-panel-"]');
    await panel.waitFor({ timeout: 3000 });
    await until(async () => (await focused(page)).startsWith('agent-history-panel-'), { timeout: 2000 });
    assert.match(await focused(page), /^agent-history-panel-/);
    assert.equal(await btn.getAttribute('aria-expanded'), 'true');
    await page.keyboard.press('Escape');
    await panel.waitFor({ state: 'detached', timeout: 3000 });
    await until(async () => (await focused(page)) === btnId, { timeout: 2000 });
    assert.equal(await focused(page), btnId, 'focus back on the button');

    // Users: the edit row opens with the focus on the name; Escape cancels.
    await openPage(page, 'users');
    const edit = page.locator('[data-testid^="user-edit-"]:not([disabled])').first();
    const editId = await edit.getAttribute('data-testid');
    await edit.focus();
    await page.keyboard.press('Enter');
    await page.locator('form[data-testid^="user-edit-form-"]').waitFor({ timeout: 3000 });
    await until(async () => /^user-edit-.*-name$/.test(await focused(page)), { timeout: 2000 });
    assert.match(await focused(page), /^user-edit-.*-name$/);
    await page.keyboard.press('Escape');
    await page.locator('form[data-testid^="user-edit-form-"]').waitFor({ state: 'detached', timeout: 3000 });
    await until(async () => (await focused(page)) === editId, { timeout: 2000 });
    assert.equal(await focused(page), editId, 'focus back on Edit');
    assert.deepEqual(page.errors, []);
    await ctx.close();
  });

  it('keyboard: the conflict dialog takes the focus, keeps it inside, closes with Escape', { timeout: 50000 }, async () => {
    const acme = demo.clients.acme.id;
    const msg = demo.messages.find((m) => m.client_id === acme);
    const ctx = await b.newContext({ viewport: DESKTOP });
    const page = await loginAs(ctx, server.url, 'admin@acme.test');
    await openPage(page, 'messages');
    const row = page.locator(`[data-testid="message-row-${msg.id}"]`);
    await row.waitFor();
    const ver = async () => Number(await row.getAttribute('data-version'));

    // Open the editor with the keyboard: the focus goes to the title field.
    await page.locator(tid(`message-edit-${msg.id}`)).focus();
    await page.keyboard.press('Enter');
    await until(async () => (await focused(page)) === `message-edit-${msg.id}-title`, { timeout: 2000 });
    assert.equal(await focused(page), `message-edit-${msg.id}-title`);
    // Someone else saves meanwhile.
    const v0 = await ver();
    await root.patch(`/api/v1/messages/${msg.id}`, { title: 'Theirs (a11y)' }, { 'If-Match': String(v0) });
    await until(async () => (await ver()) === v0 + 1, { timeout: 3000 });
    assert.equal(await ver(), v0 + 1);
    // Mine: type and press Enter; the server answers 409 and the dialog opens.
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('Mine (a11y)');
    await page.keyboard.press('Enter');
    const dialog = page.locator(tid('conflict-dialog'));
    await dialog.locator(tid('conflict-keep-theirs')).waitFor({ state: 'visible', timeout: 5000 });
    assert.equal(await dialog.evaluate((d) => d.open && d.matches(':modal')), true, 'a modal dialog');
    assert.equal(await focused(page), 'conflict-keep-theirs', 'the dialog opens with the focus on Keep theirs');
    assert.equal(await page.getByRole('dialog', { name: 'Changed by someone else' }).count(), 1, 'the dialog is named by its heading');
    // Tab and Shift+Tab stay inside the dialog (the page behind is inert).
    const inside = () => page.evaluate(() => document.querySelector('[data-testid="conflict-dialog"]').contains(document.activeElement));
    const stops = [];
    for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
      await page.keyboard.press(key);
      const f = await focused(page);
      stops.push(f);
      // Past the last control the focus may leave the document for the browser's own UI
      // (headless: body); it never lands on the page behind the dialog.
      assert.ok(f === 'body' || (await inside()), `${key}: focus ${f} outside the dialog (${stops.join(', ')})`);
    }
    assert.ok(stops.includes('conflict-overwrite'), `Tab reaches Overwrite (${stops.join(', ')})`);
    const found = [];
    for (const scheme of SCHEMES) {
      await page.emulateMedia({ colorScheme: scheme });
      found.push(...(await axeRun(page, `${scheme} conflict dialog`)));
      await shot(page, T, `${scheme}-conflict-dialog`);
    }
    await page.emulateMedia({ colorScheme: 'light' });
    // Escape keeps theirs and closes the dialog; the focus returns to the row's Edit button.
    await page.locator(tid('conflict-keep-theirs')).focus();
    await page.keyboard.press('Escape');
    await dialog.locator(tid('conflict-keep-theirs')).waitFor({ state: 'hidden', timeout: 3000 });
    assert.equal(await dialog.evaluate((d) => d.open), false);
    assert.equal(await page.locator(tid(`message-title-${msg.id}`)).innerText(), 'Theirs (a11y)');
    await until(async () => (await focused(page)) === `message-edit-${msg.id}`, { timeout: 2000 });
    assert.equal(await focused(page), `message-edit-${msg.id}`, 'focus back on Edit');
    assert.equal((await root.get(`/api/v1/messages/${msg.id}`)).row.title, 'Theirs (a11y)');
    await ctx.close();
    assertClean(found);
  });
});
