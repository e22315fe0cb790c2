import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { login } from '../lib/api.js';
import { errText } from '../lib/format.js';

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
