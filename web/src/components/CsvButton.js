// "Download CSV" for a list: the list's path with its current filters, search and sort
// (`?format=csv`: every matching row, streamed by the server), saved as the server names it.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { downloadCsv } from '../lib/api.js';
import { notify } from '../lib/notify.js';
import { errText } from '../lib/format.js';

export function CsvButton({ path, testid, label = 'Download CSV', what = 'the list' }) {
  const [busy, setBusy] = useState(false);
  async function go() {
    setBusy(true);
    try {
      const r = await downloadCsv(path);
      notify({ kind: 'success', priority: 'low', title: 'Download ready', body: `${r.name} (${r.bytes} bytes)` });
    } catch (err) {
      notify({ kind: 'error', title: `Could not export ${what}`, body: errText(err) });
    } finally {
      setBusy(false);
    }
  }
  return html`<button type="button" class="btn btn-small" data-testid=${testid} disabled=${busy} aria-label=${`${busy ? 'Exporting…' : label}: ${what}`} onClick=${go}>${busy ? 'Exporting…' : label}</button>`;
}
