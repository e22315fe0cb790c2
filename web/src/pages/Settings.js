// Settings of the signed-in user: notification preferences (kept on the server per user, so
// they follow the user to any browser; see lib/prefs.js) and changing the password (the current one required; the
// server ends every other session and this tab continues with the new tokens).
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import { changePassword } from '../lib/api.js';
import { notify } from '../lib/notify.js';
import { notifyPrefs, NOTIFY_KINDS, prefsSync, setPref } from '../lib/prefs.js';
import { useStore } from '../lib/store.js';
import { errText } from '../lib/format.js';
import { FieldError, maxLen, minLen, required, useForm } from '../lib/validate.js';

const PW_RULES = {
  current: [required('The current password')],
  next: [required('A new password'), minLen(8), maxLen(256)],
  again: [(v, all) => (v === all.next ? null : 'Does not match the new password.')],
};

const SYNC_TEXT = { loading: 'Loading…', saving: 'Saving…', saved: 'Saved to your account.', error: '' };

function change(name, value) {
  setPref(name, value).catch((err) => {
    notify({ kind: 'error', title: 'Could not save the preference', body: errText(err) });
  });
}

function NotificationPrefs() {
  const p = useStore(notifyPrefs);
  const sync = useStore(prefsSync);
  return html`<section class="card" aria-labelledby="prefs-title" data-testid="notify-settings" data-source=${sync.source} data-state=${sync.state}>
    <h2 id="prefs-title">Notification preferences</h2>
    <p class="muted small">Kept with your account: they follow you to any browser.</p>
    <fieldset class="prefs">
      <legend>Show a notification for</legend>
      ${NOTIFY_KINDS.map(
        (k) => html`<label key=${k.id} class="check"><input type="checkbox" data-testid=${`notify-pref-${k.id}`} checked=${p[k.id]} onChange=${(e) => change(k.id, e.target.checked)} /> ${k.label}</label>`
      )}
    </fieldset>
    <label class="check"><input type="checkbox" data-testid="notify-pref-sound" checked=${p.sound} onChange=${(e) => change('sound', e.target.checked)} /> Play a sound with live notifications</label>
    <p class="muted small" role="status" data-testid="notify-sync">${SYNC_TEXT[sync.state] || ''}</p>
  </section>`;
}

function PasswordForm() {
  const form = useForm({ current: '', next: '', again: '' }, PW_RULES, 'password');
  const [busy, setBusy] = useState(false);
  const ref = useRef(null);
  async function submit(e) {
    e.preventDefault();
    if (!form.check(ref.current)) return;
    setBusy(true);
    try {
      await changePassword(form.values.current, form.values.next);
      form.reset();
      notify({ kind: 'success', priority: 'normal', title: 'Password changed', body: 'Your other sessions have been signed out.' });
    } catch (err) {
      if (!form.fromServer(err, ref.current, { current_password: 'current', new_password: 'next' })) {
        notify({ kind: 'error', title: 'Could not change the password', body: errText(err) });
      }
    } finally {
      setBusy(false);
    }
  }
  return html`<section class="card" aria-labelledby="pw-title">
    <h2 id="pw-title">Change password</h2>
    <form class="form-grid" ref=${ref} novalidate onSubmit=${submit} data-testid="password-form">
      <label for="password-current">Current password</label>
      <div class="field"><input id="password-current" type="password" autocomplete="current-password" required data-testid="password-current" ...${form.bind('current')} /><${FieldError} form=${form} k="current" /></div>
      <label for="password-next">New password</label>
      <div class="field"><input id="password-next" type="password" autocomplete="new-password" required minlength="8" data-testid="password-next" ...${form.bind('next')} /><${FieldError} form=${form} k="next" /></div>
      <label for="password-again">Repeat</label>
      <div class="field"><input id="password-again" type="password" autocomplete="new-password" required data-testid="password-again" ...${form.bind('again')} /><${FieldError} form=${form} k="again" /></div>
      <div class="row-actions span2"><button class="btn btn-primary" type="submit" data-testid="password-submit" disabled=${busy}>Change password</button></div>
    </form>
  </section>`;
}

export function Settings() {
  return html`<section aria-labelledby="page-title">
    <div class="page-head"><h1 id="page-title">Settings</h1></div>
    <${NotificationPrefs} />
    <${PasswordForm} />
  </section>`;
}
