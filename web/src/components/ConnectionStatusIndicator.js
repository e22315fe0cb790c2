// ConnectionStatusIndicator: connected / connecting / reconnecting (with countdown) / offline,
// a retry button and a tooltip (shown on hover and keyboard focus).
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { conn, retryNow, RECONNECT_STEPS_MS } from '../lib/realtime.js';
import { useStore } from '../lib/store.js';

const LABEL = { connected: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting', offline: 'Offline' };

export function ConnectionStatusIndicator({ compact = false }) {
  const c = useStore(conn);
  const [, setTick] = useState(0);
  useEffect(() => {
    if (c.state === 'connected') return undefined;
    const t = setInterval(() => setTick((n) => n + 1), 250);
    return () => clearInterval(t);
  }, [c.state]);
  const now = Date.now();

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
  const id = 'conn-tip';
  return html`<div class="conn" data-testid="conn-status" data-state=${c.state} data-attempt=${c.attempt}>
    <span class="conn-main" tabindex="0" aria-describedby=${id}>
      <span class=${`dot dot-${c.state}`} aria-hidden="true"></span>
      <span class="conn-label">${LABEL[c.state] || c.state}</span>
      ${c.state === 'reconnecting' && secs != null
        ? html`<span class="conn-countdown" data-testid="conn-countdown" data-seconds=${secs}>in ${secs}s</span>`
        : null}
      <span role="tooltip" id=${id} class="tooltip" data-testid="conn-tooltip">${tip}</span>
    </span>
    ${c.state !== 'connected' && !compact
      ? html`<button type="button" class="btn btn-small" data-testid="conn-retry" onClick=${retryNow} aria-label="Retry realtime connection now">Retry</button>`
      : null}
  </div>`;
}
