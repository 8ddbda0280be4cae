// Agents' requests to change data (the local API's /mcp): the shell emits
// `agent-approval` ({Id, Agent, Account, Connector, Tool, Request}) and waits for
// `answer_agent_request` ("once", "session" or "deny"). One dialog at a time; the others
// wait in line. A request the shell gave up on (`agent-approval-done`) leaves the line.
// Must not: answer for the user (closing the dialog any other way is a denial).

import { tauri, call, $ } from '../shared.js';

const queue = [];

function showNext() {
  const dialog = $('agent-approval');
  const next = queue[0];
  if (!next) {
    if (dialog.open) dialog.close();
    return;
  }
  $('agent-approval-text').textContent = `${next.Agent} wants to run ${next.Tool} on ${next.Connector} of account ${next.Account}. It changes data.`;
  $('agent-approval-request').textContent = next.Request;
  if (!dialog.open) dialog.showModal();
}

async function answer(verdict) {
  const request = queue.shift();
  showNext();
  if (request) await call('answer_agent_request', { id: request.Id, verdict });
}

$('agent-allow-once').addEventListener('click', () => answer('once'));
$('agent-allow-session').addEventListener('click', () => answer('session'));
$('agent-deny').addEventListener('click', () => answer('deny'));
// Escape closes a modal dialog: that is a "no".
$('agent-approval').addEventListener('cancel', (e) => {
  e.preventDefault();
  answer('deny');
});

tauri.event.listen('agent-approval', (event) => {
  queue.push(event.payload);
  showNext();
});
tauri.event.listen('agent-approval-done', (event) => {
  const at = queue.findIndex((r) => r.Id === event.payload);
  if (at >= 0) {
    queue.splice(at, 1);
    showNext();
  }
});
