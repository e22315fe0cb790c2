// Realtime demo: subscribe to a table with a filter and watch raw events; join a broadcast
// channel, send messages and see who is present.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { getClient } from '../lib/realtime.js';
import { ConnectionStatusIndicator } from '../components/ConnectionStatusIndicator.js';

const TABLES = ['agent_status', 'system_messages', 'clients', 'users', 'audit_logs', '*'];
const MAX_EVENTS = 200;
let demoSeq = 0;

function ChangesDemo() {
  const [table, setTable] = useState('agent_status');
  const [event, setEvent] = useState('*');
  const [filter, setFilter] = useState('');
  const [status, setStatus] = useState('idle');
  const [error, setError] = useState('');
  const [events, setEvents] = useState([]);
  const chRef = useRef(null);

  function stop() {
    const c = getClient();
    if (chRef.current && c) {
      chRef.current.unsubscribe().catch(() => {});
      if (typeof c._remove === 'function') c._remove(chRef.current);
    }
    chRef.current = null;
    setStatus('idle');
  }
  useEffect(() => stop, []);

  function start(e) {
    e.preventDefault();
    stop();
    const c = getClient();
    if (!c) return setError('Not connected');
    setError('');
    const ch = c.channel(`demo-changes-${++demoSeq}`);
    const spec = { event, schema: 'public', table };
    if (filter.trim()) spec.filter = filter.trim();
    ch.on('postgres_changes', spec, (p) => setEvents((list) => [{ n: Date.now() + Math.random(), at: new Date().toISOString(), p }, ...list].slice(0, MAX_EVENTS)));
    ch.on('system', {}, (p) => {
      if (p && p.status === 'error') setError(p.message || 'subscription error');
    });
    ch.subscribe((s, err) => {
      setStatus(s);
      if (err) setError(err.message || String(err));
    });
    chRef.current = ch;
  }

  return html`<section class="card" aria-labelledby="demo-changes-title">
    <h2 id="demo-changes-title">Database changes</h2>
    <form class="form-inline" onSubmit=${start}>
      <label for="rt-table">Table</label>
      <select id="rt-table" data-testid="rt-table" value=${table} onChange=${(e) => setTable(e.target.value)}>${TABLES.map((t) => html`<option key=${t} value=${t}>${t}</option>`)}</select>
      <label for="rt-event">Event</label>
      <select id="rt-event" data-testid="rt-event" value=${event} onChange=${(e) => setEvent(e.target.value)}>${['*', 'INSERT', 'UPDATE', 'DELETE'].map((t) => html`<option key=${t} value=${t}>${t}</option>`)}</select>
      <label for="rt-filter">Filter</label>
      <input id="rt-filter" data-testid="rt-filter" placeholder="status=eq.busy" value=${filter} onInput=${(e) => setFilter(e.target.value)} />
      <button class="btn btn-primary" type="submit" data-testid="rt-subscribe">Subscribe</button>
      <button class="btn" type="button" data-testid="rt-unsubscribe" onClick=${stop} disabled=${!chRef.current}>Unsubscribe</button>
      <button class="btn" type="button" data-testid="rt-clear" onClick=${() => setEvents([])}>Clear</button>
    </form>
    <p>Channel: <span class="badge" data-testid="rt-sub-status" data-state=${status}>${status}</span> · <span data-testid="rt-event-count">${events.length}</span> events
      ${error ? html` · <span class="error" role="alert" data-testid="rt-error">${error}</span>` : null}</p>
    <ol class="events" data-testid="rt-events" tabindex="0" aria-label="Database change events" aria-live="polite" aria-relevant="additions">
      ${events.map((ev) => html`<li key=${ev.n} data-testid="rt-event-item" data-type=${ev.p.eventType} data-table=${ev.p.table}><span class="muted small">${ev.at} ${ev.p.eventType} ${ev.p.table}</span><pre class="json">${JSON.stringify(ev.p, null, 2)}</pre></li>`)}
    </ol>
  </section>`;
}

function BroadcastDemo({ user }) {
  const [name, setName] = useState('demo-room');
  const [evName, setEvName] = useState('chat');
  const [payload, setPayload] = useState('{"text":"hello"}');
  const [status, setStatus] = useState('idle');
  const [received, setReceived] = useState([]);
  const [presence, setPresence] = useState({});
  const [error, setError] = useState('');
  const [sent, setSent] = useState('');
  const chRef = useRef(null);

  function leave() {
    const c = getClient();
    if (chRef.current && c) {
      chRef.current.unsubscribe().catch(() => {});
      if (typeof c._remove === 'function') c._remove(chRef.current);
    }
    chRef.current = null;
    setStatus('idle');
    setPresence({});
  }
  useEffect(() => leave, []);

  function join(e) {
    e.preventDefault();
    leave();
    const c = getClient();
    if (!c) return setError('Not connected');
    setError('');
    const ch = c.channel(name.trim() || 'demo-room', { config: { broadcast: { self: true, ack: true }, presence: { key: user.email } } });
    ch.on('broadcast', { event: '*' }, (m) => setReceived((list) => [{ n: Date.now() + Math.random(), m }, ...list].slice(0, MAX_EVENTS)));
    ch.on('presence', { event: 'sync' }, () => setPresence({ ...ch.presenceState() }));
    ch.subscribe(async (s, err) => {
      setStatus(s);
      if (err) setError(err.message || String(err));
      if (s === 'SUBSCRIBED') {
        try {
          await ch.track({ email: user.email, role: user.role, online_at: new Date().toISOString() });
        } catch (er) {
          setError(`presence: ${er.message || er}`);
        }
      }
    });
    chRef.current = ch;
  }

  async function send(e) {
    e.preventDefault();
    if (!chRef.current) return;
    let body;
    try {
      body = JSON.parse(payload || '{}');
    } catch {
      return setError('Payload must be JSON');
    }
    setError('');
    const r = await chRef.current.send({ type: 'broadcast', event: evName || 'message', payload: body });
    setSent(String(r));
  }

  const people = Object.entries(presence);
  return html`<section class="card" aria-labelledby="demo-bc-title">
    <h2 id="demo-bc-title">Broadcast and presence</h2>
    <form class="form-inline" onSubmit=${join}>
      <label for="bc-channel">Channel</label>
      <input id="bc-channel" data-testid="bc-channel" value=${name} onInput=${(e) => setName(e.target.value)} />
      <button class="btn btn-primary" type="submit" data-testid="bc-join">Join</button>
      <button class="btn" type="button" data-testid="bc-leave" onClick=${leave} disabled=${!chRef.current}>Leave</button>
      <span class="badge" data-testid="bc-status" data-state=${status}>${status}</span>
    </form>
    <form class="form-inline" onSubmit=${send}>
      <label for="bc-event">Event</label>
      <input id="bc-event" data-testid="bc-event" value=${evName} onInput=${(e) => setEvName(e.target.value)} />
      <label for="bc-payload">Payload (JSON)</label>
      <input id="bc-payload" class="wide" data-testid="bc-payload" value=${payload} onInput=${(e) => setPayload(e.target.value)} />
      <button class="btn" type="submit" data-testid="bc-send" disabled=${status !== 'SUBSCRIBED'}>Send</button>
      <span class="muted small" data-testid="bc-send-result">${sent}</span>
    </form>
    ${error ? html`<p class="error" role="alert" data-testid="bc-error">${error}</p>` : null}
    <div class="split">
      <div>
        <h3>Present (${people.length})</h3>
        <ul data-testid="presence-list">
          ${people.map(([k, metas]) => html`<li key=${k} data-testid="presence-item" data-key=${k}>${k} <span class="muted small">${metas.length > 1 ? `${metas.length} tabs` : metas[0] && metas[0].role}</span></li>`)}
        </ul>
      </div>
      <div>
        <h3>Received</h3>
        <ol class="events" data-testid="bc-received" tabindex="0" aria-label="Received broadcasts">
          ${received.map(({ n, m }) => html`<li key=${n} data-testid="bc-received-item" data-event=${m.event}><span class="muted small">${m.event}</span><pre class="json">${JSON.stringify(m.payload)}</pre></li>`)}
        </ol>
      </div>
    </div>
  </section>`;
}

export function RealtimeDemo({ user }) {
  return html`<section aria-labelledby="page-title">
    <div class="page-head"><h1 id="page-title">Realtime demo</h1></div>
    <p class="muted">Raw realtime-js traffic on this server: table changes with filters (<code>col=op.value</code>, ops eq neq lt lte gt gte in), broadcast and presence.</p>
    <section class="card" aria-labelledby="conn-title"><h2 id="conn-title">Connection</h2><${ConnectionStatusIndicator} size="lg" prefix="conn-demo" /></section>
    <${ChangesDemo} />
    <${BroadcastDemo} user=${user} />
  </section>`;
}
