// The Messages page: the SystemMessageManager component.
import { html } from 'htm/preact';
import { SystemMessageManager } from '../components/SystemMessageManager.js';

export function Messages({ user }) {
  return html`<${SystemMessageManager} user=${user} />`;
}
