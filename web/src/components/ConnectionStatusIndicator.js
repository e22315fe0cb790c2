// ConnectionStatusIndicator: connected / connecting / reconnecting (with countdown) / offline,
// a retry button and a tooltip (shown on hover and keyboard focus).
// Sizes (as in the original system): `sm` (the dot and a short label, for a page toolbar),
// `md` (the header's), `lg` (a status panel: the explanation shown as text, not as a tooltip).
// Several may be on screen: each has its own tooltip id, and its test ids start with `prefix`
// (`conn` for the header's: conn-status, conn-countdown, conn-retry, conn-tooltip).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { conn, retryNow, RECONNECT_STEPS_MS } from '../lib/realtime.js';
import { useStore } from '../lib/store.js';

const LABEL = { connected: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting', offline: 'Offline' };
export const SIZES = ['sm', 'md', 'lg'];
let instances = 0;

export function ConnectionStatusIndicator({ compact = false, size = 'md', prefix = 'conn' }) {
  const c = useStore(conn);
  const [, setTick] = useState(0);
  const idRef = useRef(null);
  if (idRef.current == null) idRef.current = `conn-tip-${++instances}`;
  useEffect(() => {
    if (c.state === 'connected') return undefined;
    const t = setInterval(() => setTick((n) => n + 1), 250);
    return () => clearInterval(t);
  }, [c.state]);
  const now = Date.now();
  const sz = SIZES.includes(size) ? size : 'md';

  const secs = c.retryAt ? Math.max(0, Math.ceil((c.retryAt - now) / 1000)) : null;
  let tip;
  switch (c.state) {
    case 'connected':
      tip = `Realtime connected since ${new Date(c.since).toLocaleTimeString()}. Lists update live.`;
      break;
    case 'connecting':
      tip = 'Opening the realtime connection…';
      break;
    case 'reconnecting':
      tip = `Connection lost. Attempt ${c.attempt}; next try in ${secs ?? 0}s (back-off ${RECONNECT_STEPS_MS.map((x) => x / 1000).join(', ')} s). Data shown may be stale; it is refreshed on reconnect.`;
      break;
    default:
      tip = navigator.onLine === false ? 'Your browser is offline. Changes will appear when the connection is back.' : 'Not connected to realtime updates.';
  }
  if (c.error && c.state !== 'connected') tip += ` Last error: ${c.error}.`;
  const id = idRef.current;
  const label = LABEL[c.state] || c.state;
  const showRetry = c.state !== 'connected' && !compact && sz !== 'sm';
  return html`<div class=${`conn conn-${sz}`} data-testid=${`${prefix}-status`} data-state=${c.state} data-attempt=${c.attempt} data-size=${sz}>
    <span class="conn-main" tabindex="0" aria-describedby=${id}>
      <span class=${`dot dot-${c.state}`} aria-hidden="true"></span>
      <span class="conn-label">${sz === 'sm' ? html`<span class="sr-only">Realtime: </span>` : null}${label}</span>
      ${c.state === 'reconnecting' && secs != null
        ? html`<span class="conn-countdown" data-testid=${`${prefix}-countdown`} data-seconds=${secs}>in ${secs}s</span>`
        : null}
      ${sz === 'lg' ? null : html`<span role="tooltip" id=${id} class="tooltip" data-testid=${`${prefix}-tooltip`}>${tip}</span>`}
    </span>
    ${sz === 'lg' ? html`<span class="conn-detail" id=${id} data-testid=${`${prefix}-tooltip`}>${tip}</span>` : null}
    ${showRetry
      ? html`<button type="button" class="btn btn-small" data-testid=${`${prefix}-retry`} onClick=${retryNow} aria-label="Retry realtime connection now">Retry</button>`
      : null}
  </div>`;
}
