// "Changed by someone else": shows my version and the server's current one side by side;
// "Keep theirs" drops my change, "Overwrite" re-sends it with If-Match: current.version.
// A modal <dialog> (showModal: the page behind is inert, so the focus stays inside); it opens
// with the focus on "Keep theirs" (the safe choice), Escape keeps theirs, and on close the
// focus returns to where it was (or to the page's <main> when that element is gone).
import { html } from 'htm/preact';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { conflict } from '../lib/hooks.js';
import { useStore } from '../lib/store.js';

const SKIP = new Set(['_pending', 'created_at', 'password_hash']);

function show(v) {
  if (v == null) return '—';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function ConflictDialog() {
  const c = useStore(conflict);
  const ref = useRef(null);
  const before = useRef(null);
  const fallback = useRef(null);
  // A layout effect: the dialog opens and closes in the same frame as its content appears and
  // goes, so no empty modal is ever painted (with useEffect the buttons were gone a frame
  // before close(), and the dialog sat open and empty in between).
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (c && !d.open) {
      before.current = document.activeElement;
      fallback.current = c.returnFocus || null;
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
      const first = d.querySelector('[data-testid="conflict-keep-theirs"]');
      if (first) first.focus();
    } else if (!c && d.open) {
      d.close();
      const prev = before.current;
      const alt = fallback.current ? fallback.current() : null;
      before.current = null;
      fallback.current = null;
      const active = document.activeElement;
      if (!active || active === document.body || !active.isConnected) {
        const target = prev && prev.isConnected && prev !== document.body ? prev : alt || document.getElementById('main');
        if (target) target.focus();
      }
    }
  }, [c]);
  // Only the fields that differ (the version always), so the choice is easy to read.
  const keys = c
    ? [...new Set([...Object.keys(c.mine), ...Object.keys(c.theirs)])].filter((k) => !SKIP.has(k) && (k === 'version' || show(c.mine[k]) !== show(c.theirs[k])))
    : [];
  return html`<dialog ref=${ref} class="dialog" data-testid="conflict-dialog" aria-labelledby="conflict-title" onCancel=${(e) => {
    e.preventDefault();
    if (c) c.keepTheirs();
  }}>
    ${c
      ? html`<h2 id="conflict-title">Changed by someone else</h2>
          <p>${c.title} was changed by someone else while you were editing (their version ${c.theirs.version}). Choose which version to keep.</p>
          <div class="table-wrap" tabindex="0" role="region" aria-label="Differences"><table class="diff">
            <thead><tr><th scope="col">Field</th><th scope="col">Your change</th><th scope="col">Current (theirs)</th></tr></thead>
            <tbody>
              ${keys.map(
                (k) => html`<tr key=${k} class=${show(c.mine[k]) !== show(c.theirs[k]) ? 'differs' : ''}>
                  <th scope="row">${k}</th><td data-testid=${`conflict-mine-${k}`}>${show(c.mine[k])}</td><td data-testid=${`conflict-theirs-${k}`}>${show(c.theirs[k])}</td>
                </tr>`
              )}
            </tbody>
          </table></div>
          <div class="row-actions">
            <button type="button" class="btn" data-testid="conflict-keep-theirs" onClick=${() => c.keepTheirs()}>Keep theirs</button>
            <button type="button" class="btn btn-primary" data-testid="conflict-overwrite" onClick=${() => c.overwrite()}>Overwrite with mine</button>
          </div>`
      : null}
  </dialog>`;
}
