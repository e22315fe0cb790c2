// Helpers for the headless-Chromium tests of the web panel (tests/integration/browser_*):
// launch /usr/bin/chromium through playwright-core with a fresh profile, log in through the
// real login form, wait for the realtime indicator, and save screenshots as artifacts in
// tests/artifacts/<test>/<page>.png. Everything runs against the real switchboard binary
// started by server.mjs.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

import { api, login, startServer } from './server.mjs';

export const CHROMIUM = process.env.SWITCHBOARD_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = new URL('../../artifacts/', import.meta.url).pathname;
export const PASSWORD = 'demo-password';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A server for browser tests: demo data, generous login limits. When SWITCHBOARD_WEB_DIR is
// set the panel is served from that directory instead of the embedded copy (panel iteration).
export async function startPanelServer(opts = {}) {
  const args = ['--login-attempts', '1000', ...(opts.args || [])];
  if (process.env.SWITCHBOARD_WEB_DIR) args.push('--web-dir', process.env.SWITCHBOARD_WEB_DIR);
  return startServer({ ...opts, args });
}

// Launches Chromium with a fresh user-data-dir. Returns {browser, newContext(opts), close()}.
// Each context is a separate session (own cookies and sessionStorage).
// playwright-core refuses --user-data-dir on launch(); instead it creates a fresh temporary
// profile (playwright_chromiumdev_profile-*) for every launch and removes it on close. The
// browser's own TMPDIR is a directory of ours, removed by close().
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'sb-chromium-'));
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ARGS,
    env: { ...process.env, TMPDIR: profile },
    timeout: 30000,
  });
  const contexts = [];
  return {
    browser,
    async newContext(opts = {}) {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...opts });
      ctx.setDefaultTimeout(10000);
      contexts.push(ctx);
      return ctx;
    },
    async close() {
      for (const c of contexts) await c.close().catch(() => {});
      await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Collects console errors and page errors of a page (asserted empty by tests that care).
export function watchErrors(page) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}

export const tid = (id) => `[data-testid="${id}"]`;

// Opens the panel and signs in through the form. Returns the page, on the landing page with
// the realtime indicator connected (unless opts.waitConnected === false). opts.onPage(page)
// runs before the first navigation (to attach listeners).
export async function loginAs(ctx, url, email, { password = PASSWORD, waitConnected = true, onPage } = {}) {
  const page = await ctx.newPage();
  page.errors = watchErrors(page);
  if (onPage) onPage(page);
  await page.goto(`${url}/#/login`);
  await page.locator(tid('login-email')).fill(email);
  await page.locator(tid('login-password')).fill(password);
  await page.locator(tid('login-submit')).click();
  await page.locator(tid('current-user')).waitFor({ state: 'attached' });
  if (waitConnected) await waitConn(page, 'connected');
  return page;
}

// On a timeout the error tells what the indicator showed instead, and what the page logged.
export async function waitConn(page, state, timeout = 10000) {
  try {
    await page.locator(`${tid('conn-status')}[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
  } catch (err) {
    const shown = await page
      .locator(tid('conn-status'))
      .evaluate((e) => `${e.getAttribute('data-state')}: ${e.textContent}`)
      .catch((e) => `no indicator (${e.message})`);
    err.message += `\nindicator shows ${shown}\npage errors: ${JSON.stringify(page.errors || [])}`;
    throw err;
  }
}

// Navigates by clicking the nav link (as a user does) and waits for the page's <main>.
export async function goPage(page, name) {
  await page.locator(tid(`nav-${name}`)).click();
  await page.locator(tid(`page-${name}`)).waitFor({ state: 'attached' });
}

// Reads the session the panel keeps in sessionStorage.
export async function sessionOf(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('switchboard.session') || 'null'));
}

// Saves a full-page screenshot to tests/artifacts/<test>/<name>.png and returns the path.
export async function shot(page, test, name) {
  const dir = join(ARTIFACTS, test);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled' }).catch(() => {});
  return path;
}

// Polls fn() until it returns a truthy value, and returns it; fails the test when the time is
// up (a wait that times out silently cannot fail). opts.what names the condition in the error.
export async function until(fn, { timeout = 5000, interval = 50, what = 'the condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`until: ${what} not met within ${timeout} ms`);
    await sleep(interval);
  }
}

// All data-testid values on the page with a given prefix (e.g. 'agent-row-').
export async function testIds(page, prefix) {
  return page.evaluate(
    (p) => [...document.querySelectorAll('[data-testid]')].map((e) => e.dataset.testid).filter((t) => t.startsWith(p)),
    prefix
  );
}

// The demo data as the super admin sees it, through the API: {token, clients: {acme, globex},
// users, agents, messages} (arrays of rows).
export async function demoData(url) {
  const { token, get } = await rootApi(url);
  const clients = (await get('/api/v1/clients')).data;
  const bySlug = Object.fromEntries(clients.map((c) => [c.slug, c]));
  const users = (await get('/api/v1/users?limit=100')).data;
  const agents = (await get('/api/v1/agents')).data;
  const messages = (await get('/api/v1/messages')).data;
  return { token, clients: bySlug, users, agents, messages };
}

// API calls as the super admin (or `email`); get/patch/post throw on unexpected statuses.
export async function rootApi(url, email = 'root@demo.test') {
  const token = (await login(url, email)).access_token;
  const call = async (method, path, body, headers, ok = [200, 201]) => {
    const r = await api(url, method, path, { token, body, headers });
    if (!ok.includes(r.status)) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    const j = r.json;
    return j && j.data && !Array.isArray(j.data) && j.data.id ? { ...j, row: j.data } : { ...j, row: j };
  };
  return {
    token,
    get: (p) => call('GET', p),
    post: (p, b) => call('POST', p, b),
    patch: (p, b, headers) => call('PATCH', p, b, headers),
  };
}
