import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { login, resetPassword } from '../lib/api.js';
import { errText } from '../lib/format.js';
import { issueText } from '../lib/validate.js';

export function Login({ onDone }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  useEffect(() => {
    document.title = 'Sign in · switchboard';
  }, []);

  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await login(email.trim(), password);
      onDone(s);
    } catch (err) {
      setError(err.status === 401 ? 'Wrong email or password.' : err.status === 429 ? 'Too many attempts; try again later.' : errText(err));
    } finally {
      setBusy(false);
    }
  }

  return html`<main class="login" id="main">
    <form class="card login-card" onSubmit=${submit} data-testid="login-form" aria-labelledby="login-title">
      <h1 id="login-title">switchboard</h1>
      <p class="muted">Sign in to the admin panel</p>
      <label for="login-email">Email</label>
      <input id="login-email" data-testid="login-email" type="email" autocomplete="username" required value=${email} onInput=${(e) => setEmail(e.target.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" data-testid="login-password" type="password" autocomplete="current-password" required value=${password} onInput=${(e) => setPassword(e.target.value)} />
      <div class="error" role="alert" data-testid="login-error" hidden=${!error}>${error}</div>
      <button type="submit" class="btn btn-primary" data-testid="login-submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </main>`;
}

// #/reset?token=...: the page a set-password link opens (a reset token from an admin or from a
// CSV import). No session needed; on success the user signs in with the new password.
export function SetPassword() {
  const token = new URLSearchParams(location.hash.split('?')[1] || '').get('token') || '';
  const [pw, setPw] = useState('');
  const [again, setAgain] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [done, setDone] = useState(false);
  useEffect(() => {
    document.title = 'Set your password · switchboard';
  }, []);

  async function submit(e) {
    e.preventDefault();
    setError('');
    if (pw.length < 8) return setError('The password needs at least 8 characters.');
    if (pw !== again) return setError('The two passwords differ.');
    setBusy(true);
    try {
      await resetPassword(token, pw);
      setDone(true);
    } catch (err) {
      const d = (err.details || [])[0];
      setError(d && d.field === 'token' ? 'This link is invalid, used or expired: ask your admin for a new one.' : d ? `${d.field === 'new_password' ? 'Password' : d.field}: ${issueText(d.issue)}` : errText(err));
    } finally {
      setBusy(false);
    }
  }

  return html`<main class="login" id="main">
    ${done
      ? html`<div class="card login-card" data-testid="reset-done" role="status">
          <h1 id="reset-title">Password set</h1>
          <p>You can sign in with your new password now.</p>
          <a class="btn btn-primary" href="#/login" data-testid="reset-signin">Sign in</a>
        </div>`
      : html`<form class="card login-card" novalidate onSubmit=${submit} data-testid="reset-form" aria-labelledby="reset-title">
          <h1 id="reset-title">Set your password</h1>
          ${token ? null : html`<p class="error" role="alert">This link has no token.</p>`}
          <label for="reset-password">New password</label>
          <input id="reset-password" data-testid="reset-password" type="password" autocomplete="new-password" minlength="8" required value=${pw} onInput=${(e) => setPw(e.target.value)} />
          <label for="reset-password-again">Repeat it</label>
          <input id="reset-password-again" data-testid="reset-password-again" type="password" autocomplete="new-password" minlength="8" required value=${again} onInput=${(e) => setAgain(e.target.value)} />
          <div class="error" role="alert" data-testid="reset-error" hidden=${!error}>${error}</div>
          <button type="submit" class="btn btn-primary" data-testid="reset-submit" disabled=${busy || !token}>${busy ? 'Saving…' : 'Set password'}</button>
        </form>`}
  </main>`;
}
