// RealtimeNotificationSystem: listens (on its own channel) for new system messages and agent
// status changes and for connection changes, and shows throttled, deduplicated toasts by
// priority. Screen readers hear them through two live regions (polite / assertive).
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import { openChannel, conn } from '../lib/realtime.js';
import { useStore } from '../lib/store.js';
import { toasts, announce, dismiss, notifyEvent } from '../lib/notify.js';
import { loadPrefs, wants } from '../lib/prefs.js';

export function RealtimeNotificationSystem({ user }) {
  const lastStatus = useRef(new Map());
  const lastUser = useRef(null);
  // The user's notification preferences (which live events toast, sound): read before the
  // channel's first event.
  if (user && user.id && lastUser.current !== user.id) {
    lastUser.current = user.id;
    loadPrefs(user.id);
  }
  useEffect(() => {
    const ch = openChannel('notifications', {}, (c) => {
      c.on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'system_messages' }, (p) => {
        const m = p.new || {};
        if (!wants('message')) return;
        notifyEvent({
          key: `msg:${m.id}:${m.version ?? 1}`,
          group: 'new message',
          kind: 'message',
          priority: m.priority || 'normal',
          title: `${m.priority === 'critical' ? 'Critical' : 'New'} message${m.client_id ? '' : ' (global)'}`,
          body: m.title || '',
        });
      });
      c.on('postgres_changes', { event: 'UPDATE', schema: 'public', table: 'agent_status' }, (p) => {
        const a = p.new || {};
        const before = (p.old && p.old.status) || lastStatus.current.get(a.id);
        lastStatus.current.set(a.id, a.status);
        if (!a.status || before === a.status || !wants('status')) return;
        notifyEvent({
          key: `agent:${a.id}:${a.version ?? a.status_since ?? a.status}`,
          group: 'status change',
          kind: 'status',
          priority: 'low',
          title: `${a.display_name || 'Agent'} is now ${a.status}`,
          body: a.reason || '',
        });
      });
    });
    return () => ch.close();
  }, [user && user.id]);

  // Connection changes (not the first connect).
  useEffect(() => {
    let prev = conn.get().state;
    let wasConnected = prev === 'connected';
    return conn.subscribe((c) => {
      if (c.state === prev) return;
      if (!wants('connection')) {
        if (c.state === 'connected') wasConnected = true;
        prev = c.state;
        return;
      }
      if (c.state === 'reconnecting' && prev === 'connected') {
        notifyEvent({ key: `conn:lost:${Math.floor(Date.now() / 5000)}`, group: 'connection change', kind: 'connection', priority: 'normal', title: 'Realtime connection lost', body: 'Reconnecting…' });
      } else if (c.state === 'connected' && wasConnected) {
        notifyEvent({ key: `conn:back:${Math.floor(Date.now() / 5000)}`, group: 'connection change', kind: 'connection', priority: 'low', title: 'Reconnected', body: 'Lists refreshed' });
      }
      if (c.state === 'connected') wasConnected = true;
      prev = c.state;
    });
  }, []);
  return null;
}

export function Toasts() {
  const list = useStore(toasts);
  const a = useStore(announce);
  return html`<div>
    <div class="sr-only" aria-live="polite" role="status" data-testid="live-region">${a.polite}</div>
    <div class="sr-only" aria-live="assertive" role="alert" data-testid="live-region-assertive">${a.assertive}</div>
    <section class="toasts" data-testid="toasts" aria-label="Notifications">
      ${list.map(
        (t) => html`<div key=${t.id} class=${`toast toast-${t.priority} toast-${t.kind}`} data-testid="toast" data-priority=${t.priority} data-kind=${t.kind} data-count=${t.count || 1} data-sound=${t.sound ? 'true' : 'false'}>
          <div class="toast-text"><strong>${t.title}</strong>${t.body ? html`<div>${t.body}</div>` : null}</div>
          ${t.action
            ? html`<button type="button" class="btn btn-small" data-testid="toast-action" onClick=${() => {
                dismiss(t.id);
                t.action.run();
              }}>${t.action.label}</button>`
            : null}
          <button type="button" class="btn-icon" data-testid="toast-dismiss" onClick=${() => dismiss(t.id)}><span aria-hidden="true">×</span><span class="sr-only">Dismiss notification: ${t.title}</span></button>
        </div>`
      )}
    </section>
  </div>`;
}
