// Entry point: session gate, hash router (#/dashboard, #/agents, ...), app shell (header with
// ConnectionStatusIndicator, navigation, toasts, conflict dialog).
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { session, logout, logoutEverywhere, checkSession, onToken, api } from './lib/api.js';
import { getClient, onAuthTrouble, startRealtime, stopRealtime, updateToken } from './lib/realtime.js';
import { notify } from './lib/notify.js';
import { installActivityReporting } from './lib/activity.js';
import { errText } from './lib/format.js';
import { useStore } from './lib/store.js';
import { canAdmin, isSuper } from './lib/format.js';
import { ConnectionStatusIndicator } from './components/ConnectionStatusIndicator.js';
import { RealtimeNotificationSystem, Toasts } from './components/RealtimeNotificationSystem.js';
import { ConflictDialog } from './components/ConflictDialog.js';
import { Login, SetPassword } from './pages/Login.js';
import { Dashboard } from './pages/Dashboard.js';
import { Agents } from './pages/Agents.js';
import { Messages } from './pages/Messages.js';
import { Clients } from './pages/Clients.js';
import { Users } from './pages/Users.js';
import { Audit } from './pages/Audit.js';
import { RealtimeDemo } from './pages/RealtimeDemo.js';
import { Settings } from './pages/Settings.js';

const PAGES = [
  { id: 'dashboard', label: 'Dashboard', comp: Dashboard, allow: canAdmin },
  { id: 'agents', label: 'Agents', comp: Agents, allow: () => true },
  { id: 'messages', label: 'Messages', comp: Messages, allow: () => true },
  { id: 'clients', label: 'Clients', comp: Clients, allow: isSuper },
  { id: 'users', label: 'Users', comp: Users, allow: canAdmin },
  { id: 'audit', label: 'Audit', comp: Audit, allow: canAdmin },
  { id: 'realtime', label: 'Realtime demo', comp: RealtimeDemo, allow: () => true },
  { id: 'settings', label: 'Settings', comp: Settings, allow: () => true },
];

function routeOf() {
  const h = location.hash.replace(/^#\/?/, '');
  return h.split(/[/?]/)[0] || '';
}

function useRoute() {
  const [r, setR] = useState(routeOf());
  useEffect(() => {
    const f = () => setR(routeOf());
    window.addEventListener('hashchange', f);
    return () => window.removeEventListener('hashchange', f);
  }, []);
  return r;
}

// Keeps the realtime client in step with the session (start, token refresh, stop).
onToken((token) => {
  if (token) updateToken(token);
  else stopRealtime();
});

// The realtime server closed us for a revoked or expired token (for example "log out
// everywhere" in another browser): ask the API whether the session is still alive.
onAuthTrouble(() => {
  checkSession();
});

// "Log out everywhere": the first click asks for confirmation (for 5 s), the second ends every
// session of the user.
function LogoutEverywhere() {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (!confirming) return undefined;
    const t = setTimeout(() => setConfirming(false), 5000);
    return () => clearTimeout(t);
  }, [confirming]);
  async function click() {
    if (!confirming) {
      setConfirming(true);
      return;
    }
    setBusy(true);
    try {
      await logoutEverywhere();
    } catch (err) {
      setBusy(false);
      setConfirming(false);
      notify({ kind: 'error', title: 'Could not log out everywhere', body: errText(err) });
    }
  }
  return html`<button type="button" class="btn btn-small" data-testid="logout-everywhere" data-confirm=${confirming ? 'true' : 'false'} disabled=${busy} title="End every session of this account, on every device" onClick=${click}>${confirming ? 'Confirm: log out everywhere' : 'Log out everywhere'}</button>`;
}

function Shell({ s, route }) {
  const user = s.user || {};
  const pages = PAGES.filter((p) => p.allow(user));
  const page = pages.find((p) => p.id === route);
  const [menu, setMenu] = useState(false);

  // Started during render, before the pages' effects subscribe their channels.
  if (!getClient()) startRealtime(s.access_token);

  useEffect(() => {
    if (!page) location.replace(`#/${pages[0].id}`);
    setMenu(false);
    const main = document.getElementById('main');
    if (main && page) main.focus({ preventScroll: true });
    if (page) document.title = `${page.label} · switchboard`;
  }, [route]);

  const Comp = page ? page.comp : null;
  return html`<div class="app">
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="topbar">
      <button type="button" class="btn-icon menu-btn" aria-expanded=${menu ? 'true' : 'false'} aria-controls="nav" data-testid="nav-toggle" onClick=${() => setMenu(!menu)}><span aria-hidden="true">☰</span><span class="sr-only">Menu</span></button>
      <a class="brand" href="#/${pages[0].id}">switchboard</a>
      <${ConnectionStatusIndicator} />
      <span class="who" data-testid="current-user" data-role=${user.role}>${user.email} <span class="badge">${user.role}</span></span>
      <button type="button" class="btn btn-small" data-testid="logout" onClick=${logout}>Log out</button>
      <${LogoutEverywhere} />
    </header>
    <nav id="nav" class=${`nav${menu ? ' open' : ''}`} aria-label="Main">
      <ul>
        ${pages.map(
          (p) => html`<li key=${p.id}><a href=${`#/${p.id}`} data-testid=${`nav-${p.id}`} aria-current=${p.id === route ? 'page' : undefined}>${p.label}</a></li>`
        )}
      </ul>
    </nav>
    <main id="main" tabindex="-1" data-testid=${`page-${route}`}>${Comp ? html`<${Comp} user=${user} key=${route} />` : null}</main>
    <${RealtimeNotificationSystem} user=${user} />
    <${Toasts} />
    <${ConflictDialog} />
  </div>`;
}

function App() {
  const s = useStore(session);
  const route = useRoute();

  // Fill in the user when a stored session lacks it.
  useEffect(() => {
    if (s && !s.user) api('GET', '/api/v1/me').then((u) => session.set({ ...s, user: u.user || u.data || u })).catch(() => {});
  }, [s && s.access_token]);

  // A set-password link (#/reset?token=...) works signed in or not.
  if (route === 'reset') return html`<div><${SetPassword} /><${Toasts} /></div>`;
  if (!s) {
    if (route !== 'login') location.replace('#/login');
    return html`<div><${Login} onDone=${(ns) => { location.hash = canAdmin(ns.user) ? '#/dashboard' : '#/agents'; }} /><${Toasts} /></div>`;
  }
  if (!s.user) return html`<p class="muted center">Loading…</p>`;
  if (route === 'login' || route === '') {
    location.replace(canAdmin(s.user) ? '#/dashboard' : '#/agents');
    return null;
  }
  return html`<${Shell} s=${s} route=${route} key=${s.user.id} />`;
}

installActivityReporting();
render(html`<${App} />`, document.getElementById('app'));
