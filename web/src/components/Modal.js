// A modal <dialog> for confirmations (showModal: the page behind is inert, so the focus stays
// inside). It opens with the focus on the element marked data-autofocus (else the first
// button), Escape calls onClose, and on close the focus returns to where it was (or <main>).
import { html } from 'htm/preact';
import { useEffect, useLayoutEffect, useRef } from 'preact/hooks';

let seq = 0;

export function Modal({ open, title, testid, onClose, children }) {
  const ref = useRef(null);
  const before = useRef(null);
  const idRef = useRef(null);
  if (idRef.current == null) idRef.current = `modal-title-${++seq}`;
  // A layout effect, so the dialog opens and closes in the frame its content appears and goes
  // (never an open, empty modal in between).
  useLayoutEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) {
      before.current = document.activeElement;
      if (typeof d.showModal === 'function') d.showModal();
      else d.setAttribute('open', '');
      const first = d.querySelector('[data-autofocus]') || d.querySelector('button');
      if (first) first.focus();
    } else if (!open && d.open) {
      d.close();
      const prev = before.current;
      before.current = null;
      const target = prev && prev.isConnected && prev !== document.body ? prev : document.getElementById('main');
      if (target) target.focus();
    }
  }, [open]);
  // Closed by the page going away while open: nothing to restore.
  useEffect(() => () => ref.current && ref.current.open && ref.current.close(), []);
  return html`<dialog ref=${ref} class="dialog" data-testid=${testid} aria-labelledby=${idRef.current} onCancel=${(e) => {
    e.preventDefault();
    onClose();
  }}>
    ${open ? html`<h2 id=${idRef.current}>${title}</h2>${children}` : null}
  </dialog>`;
}
