// AgentStatusControl (as in the original system): one agent's status as a <select> plus
// quick-action buttons (online / away / busy / offline), for the agents board's cards. The
// change itself is the caller's (onChange(agent, status): optimistic, rolled back with an
// error toast on failure, as useRealtimeAgentStatus().updateStatus does). The buttons are
// plain <button>s (Tab, Enter, Space) named by their status inside a group named after the
// agent; the current status is the pressed one.
import { html } from 'htm/preact';
import { STATUSES } from '../lib/format.js';

export function AgentStatusControl({ agent, canEdit, onChange, children }) {
  const name = agent.display_name || agent.id;
  const set = (s) => {
    if (canEdit && s !== agent.status) onChange(agent, s);
  };
  return html`<div class="status-control" data-testid=${`agent-control-${agent.id}`}>
    <div class="agent-body">
      <label class="sr-only" for=${`agent-status-${agent.id}`}>Status of ${name}</label>
      <select id=${`agent-status-${agent.id}`} data-testid=${`agent-status-${agent.id}`} value=${agent.status} disabled=${!canEdit} onChange=${(e) => set(e.target.value)}>
        ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s}</option>`)}
      </select>
      ${children}
    </div>
    ${canEdit
      ? html`<div class="quick" role="group" aria-label=${`Quick status for ${name}`}>
          ${STATUSES.map(
            (s) => html`<button key=${s} type="button" class=${`btn btn-quick quick-${s}`} data-testid=${`agent-quick-${agent.id}-${s}`} aria-pressed=${agent.status === s ? 'true' : 'false'} title=${`Set ${name} ${s}`} onClick=${() => set(s)}>${s}</button>`
          )}
        </div>`
      : html`<div class="quick quick-none" aria-hidden="true"></div>`}
  </div>`;
}
