// "Import CSV" for the Users and Agents pages: a dialog where the admin picks a file (or pastes
// the text), which goes to POST /api/v1/users/import as one all-or-nothing request. When the
// server refuses it (422), every problem is shown at its record: the record's number (the
// header is 1), its fields as read from the file, and what is wrong with which field. When it
// is accepted, the new users are listed with a one-time link each (#/reset?token=...) that sets
// their password; the tokens are shown only now (the server keeps only their hash) and can be
// downloaded as a CSV. The lists update live from the realtime inserts.
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import { api, saveBlob } from '../lib/api.js';
import { csvLine, parseCsv, problemsByRow } from '../lib/csv.js';
import { errText, fmtTime } from '../lib/format.js';
import { issueText } from '../lib/validate.js';
import { notify } from '../lib/notify.js';
import { Modal } from './Modal.js';

// Rows of a report drawn in the dialog (the rest are counted; the download has every user).
const SHOW_MAX = 200;

export function resetLink(token) {
  return `${location.origin}${location.pathname}#/reset?token=${encodeURIComponent(token)}`;
}

function Problems({ err, text }) {
  const recs = parseCsv(text, 100000);
  const groups = problemsByRow(err.details);
  const nProblems = (err.details || []).length;
  return html`<div data-testid="import-problems" data-count=${nProblems} data-rows=${groups.length}>
    <p class="error" role="alert" data-testid="import-error">${err.status === 413 ? 'The file is larger than the server accepts in one request: split it into smaller files.' : err.message || errText(err)}</p>
    ${groups.length
      ? html`<div class="table-wrap" tabindex="0" role="region" aria-label="Problems by row"><table class="import-report">
          <thead><tr><th scope="col" class="num">Row</th><th scope="col">Record</th><th scope="col">Problems</th></tr></thead>
          <tbody>${groups.slice(0, SHOW_MAX).map(
            (g) => html`<tr key=${g.row} data-testid=${`import-problem-row-${g.row}`}>
              <th scope="row" class="num">${g.row || '—'}</th>
              <td class="mono small">${g.row > 0 && recs[g.row - 1] ? recs[g.row - 1].join(', ') : ''}</td>
              <td>${g.problems.map((p) => html`<div data-testid=${`import-problem-${g.row}-${p.field}`} data-issue=${p.issue}><strong>${p.field}</strong>: ${issueText(p.issue)}</div>`)}</td>
            </tr>`
          )}</tbody></table></div>
          ${groups.length > SHOW_MAX ? html`<p class="muted small">${groups.length - SHOW_MAX} more rows with problems not shown.</p>` : null}`
      : null}
  </div>`;
}

function Done({ r }) {
  const users = r.users || [];
  function download() {
    let out = csvLine(['row', 'email', 'role', 'reset_link', 'reset_token', 'reset_expires_at']);
    for (const u of users) out += csvLine([u.row, u.email, u.role, resetLink(u.reset_token), u.reset_token, u.reset_expires_at]);
    saveBlob(new Blob([out], { type: 'text/csv' }), 'imported-users.csv');
  }
  return html`<div data-testid="import-done" data-created=${r.created}>
    <p role="status"><strong>${r.created} user${r.created === 1 ? '' : 's'} created.</strong> Nobody has a password yet: give each person their link (or token), which sets it once${users[0] ? `, until ${fmtTime(users[0].reset_expires_at)}` : ''}. The links are shown only now.</p>
    <div class="row-actions"><button type="button" class="btn" data-testid="import-download-links" onClick=${download}>Download links (CSV)</button></div>
    <div class="table-wrap" tabindex="0" role="region" aria-label="Set-password links"><table class="import-report">
      <thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Set-password link</th></tr></thead>
      <tbody>${users.slice(0, SHOW_MAX).map(
        (u) => html`<tr key=${u.id} data-testid=${`import-user-${u.row}`}>
          <td>${u.email}</td><td>${u.role}</td>
          <td><a class="token small" href=${resetLink(u.reset_token)} data-testid=${`import-link-${u.row}`} data-token=${u.reset_token} rel="noreferrer" target="_blank">${resetLink(u.reset_token)}</a></td>
        </tr>`
      )}</tbody></table></div>
    ${users.length > SHOW_MAX ? html`<p class="muted small">${users.length - SHOW_MAX} more in the download.</p>` : null}
  </div>`;
}

// testid prefixes every test id ("users-import"); defaultRole is the role of records whose
// file has no role column or an empty role (the Agents page imports agents).
export function CsvImport({ testid = 'import', what = 'users', defaultRole, canPickClient = false }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [fileName, setFileName] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  const [done, setDone] = useState(null);
  const fileRef = useRef(null);

  function reset() {
    setText('');
    setFileName('');
    setErr(null);
    setDone(null);
    if (fileRef.current) fileRef.current.value = '';
  }
  function close() {
    setOpen(false);
    reset();
  }
  async function pick(e) {
    const f = e.target.files && e.target.files[0];
    if (!f) return;
    setErr(null);
    setFileName(f.name);
    setText(await f.text());
  }
  async function send(e) {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(true);
    setErr(null);
    try {
      const body = { csv: text };
      if (defaultRole) body.default_role = defaultRole;
      const r = await api('POST', '/api/v1/users/import', { body });
      setDone(r);
      notify({ kind: 'success', priority: 'low', title: 'Import done', body: `${r.created} ${what} created` });
    } catch (e2) {
      setErr(e2);
    } finally {
      setBusy(false);
    }
  }
  const cols = `email, name${defaultRole ? `, role (${defaultRole} when empty)` : ', role'}, status${canPickClient ? ', client_id' : ''}`;
  return html`<span>
    <button type="button" class="btn btn-small" data-testid=${testid} aria-haspopup="dialog" onClick=${() => setOpen(true)}>Import CSV</button>
    <${Modal} open=${open} title=${`Import ${what} from CSV`} testid=${`${testid}-dialog`} onClose=${close}>
      ${done
        ? html`<${Done} r=${done} />
            <div class="row-actions"><button type="button" class="btn btn-primary" data-testid=${`${testid}-close`} onClick=${close}>Done</button></div>`
        : html`<form onSubmit=${send} data-testid=${`${testid}-form`} aria-busy=${busy ? 'true' : 'false'}>
            <p class="muted small">A header line naming the columns (${cols}), then one ${what === 'agents' ? 'agent' : 'user'} per line. The file is checked as a whole: if any line has a problem, nothing is imported and every problem is listed by row.</p>
            <label for=${`${testid}-file`}>File</label>
            <input id=${`${testid}-file`} ref=${fileRef} data-autofocus type="file" accept=".csv,text/csv,text/plain" data-testid=${`${testid}-file`} onChange=${pick} />
            <label for=${`${testid}-text`}>Or paste the text</label>
            <textarea id=${`${testid}-text`} rows="6" class="mono small" data-testid=${`${testid}-text`} spellcheck="false" value=${text} onInput=${(e) => {
              setText(e.target.value);
              setFileName('');
            }}></textarea>
            <p class="muted small" data-testid=${`${testid}-summary`}>${text.trim() ? `${fileName ? `${fileName}: ` : ''}${Math.max(0, parseCsv(text).length - 1)} record(s) after the header` : 'Nothing chosen yet.'}</p>
            ${err ? html`<${Problems} err=${err} text=${text} />` : null}
            <div class="row-actions">
              <button type="submit" class="btn btn-primary" data-testid=${`${testid}-submit`} disabled=${busy || !text.trim()}>${busy ? 'Importing…' : 'Import'}</button>
              <button type="button" class="btn" data-testid=${`${testid}-cancel`} onClick=${close}>Cancel</button>
            </div>
          </form>`}
    <//>
  </span>`;
}
