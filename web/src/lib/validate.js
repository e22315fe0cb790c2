// Form validation as you type, and the server's 422 `details` shown at their field.
// Rules are plain functions (value, allValues) -> message | null; useForm keeps the values,
// shows a field's error once it was touched (or after a submit attempt), and puts the
// server's details at the field they name (cleared when that field is edited).
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';

// The server's issue codes in words (anything else: the code with spaces).
const ISSUE_TEXT = {
  required: 'Required.',
  too_long: 'Too long.',
  too_short: 'Too short.',
  invalid: 'Not valid.',
  taken: 'Already taken.',
  duplicate: 'Already taken.',
  incorrect: 'Incorrect.',
  must_be_after_starts_at: 'Must be after the start.',
  must_be_before_to: 'Must be before the end.',
  must_match_slug_or_name: 'Does not match the name.',
  invalid_or_expired: 'Invalid or expired.',
  must_be_null_for_super_admin: 'Must be empty for a super admin.',
  must_be_string: 'Must be text.',
  forbidden: 'You may not give this.',
  duplicate_in_file: 'Twice in this file.',
  unknown_column: 'Unknown column.',
  wrong_number_of_fields: 'Wrong number of fields.',
  malformed: 'Not readable as CSV.',
  no_records: 'No records after the header.',
};

export function issueText(issue) {
  if (!issue) return 'Not valid.';
  if (ISSUE_TEXT[issue]) return ISSUE_TEXT[issue];
  const s = String(issue).replace(/_/g, ' ');
  return `${s.charAt(0).toUpperCase()}${s.slice(1)}.`;
}

// {field: text} from an ApiError's details (a 422, or a 409 such as an e-mail already taken;
// not a version conflict, which carries the current row), null when it has none.
export function serverFieldErrors(err) {
  if (!err || (err.status !== 422 && err.status !== 409) || err.current || !Array.isArray(err.details) || !err.details.length) return null;
  const out = {};
  for (const d of err.details) if (d && d.field && !out[d.field]) out[d.field] = issueText(d.issue);
  return out;
}

export const required = (label = 'This') => (v) => (String(v ?? '').trim() ? null : `${label} is required.`);
export const maxLen = (n) => (v) => (String(v ?? '').length > n ? `At most ${n} characters (now ${String(v).length}).` : null);
export const minLen = (n) => (v) => (v && String(v).length < n ? `At least ${n} characters.` : null);
export const email = () => (v) => (!v || /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(String(v).trim()) ? null : 'Not a valid e-mail address.');
export const pattern = (re, text) => (v) => (!v || re.test(String(v)) ? null : text);
// A datetime-local value after another field's (both set).
export const after = (other, text) => (v, all) => {
  if (!v || !all[other]) return null;
  const a = Date.parse(v);
  const b = Date.parse(all[other]);
  return Number.isNaN(a) || Number.isNaN(b) || a > b ? null : text;
};

export function validate(values, rules) {
  const out = {};
  for (const [k, list] of Object.entries(rules || {})) {
    for (const rule of list) {
      const m = rule(values[k], values);
      if (m) {
        out[k] = m;
        break;
      }
    }
  }
  return out;
}

// serverNames maps a form key to the server's field name (e.g. starts_at) when they differ.
export function useForm(initial, rules, testPrefix) {
  const [values, setValues] = useState(initial);
  const [touched, setTouched] = useState({});
  const [submitted, setSubmitted] = useState(false);
  const [server, setServer] = useState({});
  const errors = validate(values, rules);
  const shown = (k) => server[k] || ((touched[k] || submitted) && errors[k]) || null;
  const errId = (k) => `${testPrefix}-${k}-error`;
  return {
    values,
    errors,
    shown,
    set(k, v) {
      setValues((old) => ({ ...old, [k]: v }));
      setTouched((t) => (t[k] ? t : { ...t, [k]: true }));
      setServer((s) => (s[k] ? { ...s, [k]: undefined } : s));
    },
    reset(v = initial) {
      setValues(v);
      setTouched({});
      setSubmitted(false);
      setServer({});
    },
    // true when the form may be sent; otherwise shows every error and focuses the first.
    check(formEl) {
      setSubmitted(true);
      const bad = Object.keys(errors);
      if (bad.length && formEl) {
        const el = formEl.querySelector(`[aria-describedby="${errId(bad[0])}"]`);
        if (el) el.focus();
      }
      return bad.length === 0;
    },
    // Puts a 422's details at their fields; returns true when the error had any.
    fromServer(err, formEl, map = {}) {
      const fe = serverFieldErrors(err);
      if (!fe) return false;
      const s = {};
      for (const [f, t] of Object.entries(fe)) s[map[f] || f] = t;
      setServer(s);
      const first = Object.keys(s)[0];
      const el = formEl && formEl.querySelector(`[aria-describedby="${errId(first)}"]`);
      if (el) el.focus();
      return true;
    },
    serverOther(keys) {
      return Object.entries(server).filter(([k, v]) => v && !keys.includes(k));
    },
    // Props for an input bound to field k.
    bind(k) {
      const e = shown(k);
      return {
        value: values[k],
        onInput: (ev) => this.set(k, ev.target.value),
        onBlur: () => setTouched((t) => (t[k] ? t : { ...t, [k]: true })),
        'aria-invalid': e ? 'true' : 'false',
        'aria-describedby': errId(k),
      };
    },
    errId,
  };
}

// The message under a field (always in the DOM, so aria-describedby points at something;
// empty when the field is fine). role=alert is not used: the field's aria-invalid and
// description say it when the field is focused, without interrupting typing.
export function FieldError({ form, k }) {
  const e = form.shown(k);
  return html`<p class=${`field-error${e ? '' : ' empty'}`} id=${form.errId(k)} data-testid=${form.errId(k)} data-error=${e ? 'true' : 'false'}>${e || ''}</p>`;
}
