// The History tab: what happened to the credential (sign-ins, refreshes, failures,
// revocations) and what caused it, in words; under a failed refresh or sign-in, the
// exchange with the token endpoint as the core kept it (redacted: no values).
// Must not: show a secret (events carry none) or change anything.

import {
  $, el, fill, when,
} from '../../shared.js';

const EVENT_WORDS = {
  signed_in: 'Signed in',
  granted_less: 'The sign-in got less than it asked for',
  authenticated: 'Obtained a token (the connector\'s own grant)',
  refreshed: 'Refreshed the access token',
  needs_reauth: 'The provider refused the grant: the user must sign in again',
  refresh_failed: 'A refresh failed; it will be retried',
  refresh_discarded: 'A refresh was discarded (the credential changed meanwhile)',
  sign_in_failed: 'A sign-in failed',
  auth_value_set: 'Credentials set',
  disconnected: 'Disconnected: the credential was forgotten here',
  revoked: 'Revoked at the provider',
  revocation_failed: 'Revocation at the provider failed',
  not_revoked: 'Not revoked at the provider',
  verified: 'A method call worked with the stored credential',
  refused: 'The provider refused the stored credential',
  agent_tool_call: 'An agent (MCP) called a tool',
  step_up_needed: 'The MCP server asks for more access: sign in again to grant it',
};
const TRIGGER_WORDS = {
  call: 'a method call needed it',
  keep_alive: 'the keep-alive (before expiry, or to keep an idle refresh token alive)',
  user: 'you asked (Refresh now or the CLI)',
};

// The exchange's lines, label then value, skipping what it does not have.
function exchangeLines(x) {
  const sent = [x.Grant && `grant ${x.Grant}`, x.ClientAuthentication && `client authentication ${x.ClientAuthentication}`, x.Dpop && 'a DPoP proof'].filter(Boolean).join(', ');
  let answer = x.Failure ? `none (${x.Failure})` : '';
  if (!x.Failure && x.Status) answer = `HTTP ${x.Status}${x.Error ? ` ${x.Error}` : ''}${x.ErrorDescription ? `: ${x.ErrorDescription}` : ''}`;
  return [
    ['Request', `${x.Method} ${x.Endpoint}`],
    ['Sent', sent],
    ['Parameters', (x.Parameters || []).join(', ')],
    ['Answer', answer],
    ['WWW-Authenticate', x.WwwAuthenticate],
    ['Retry-After', x.RetryAfter],
    ['Body (tokens removed)', x.Body],
  ].filter(([, v]) => v);
}

function exchangeDetails(x) {
  const details = el('details', null, 'exchange');
  details.append(el('summary', 'The exchange with the token endpoint'));
  const dl = el('dl');
  for (const [label, value] of exchangeLines(x)) dl.append(el('dt', label), el('dd', value));
  details.append(dl);
  return details;
}

export function renderHistory(events) {
  fill($('history').tBodies[0], events.map((e) => {
    const tr = el('tr');
    const what = EVENT_WORDS[e.Kind] || e.Kind.replace(/_/g, ' ');
    const cell = el('td', e.Detail ? `${what} — ${e.Detail}` : what);
    if (e.Exchange) cell.append(exchangeDetails(e.Exchange));
    tr.append(el('td', when(e.At)), cell, el('td', TRIGGER_WORDS[e.Trigger] || ''));
    return tr;
  }), 3);
}
