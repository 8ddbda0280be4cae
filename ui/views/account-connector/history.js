// The History tab: what happened to the credential (sign-ins, refreshes, failures,
// revocations) and what caused it, in words.
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
};
const TRIGGER_WORDS = {
  call: 'a method call needed it',
  keep_alive: 'the keep-alive (before expiry, or to keep an idle refresh token alive)',
  user: 'you asked (Refresh now or the CLI)',
};

export function renderHistory(events) {
  fill($('history').tBodies[0], events.map((e) => {
    const tr = el('tr');
    const what = EVENT_WORDS[e.Kind] || e.Kind.replace(/_/g, ' ');
    tr.append(el('td', when(e.At)), el('td', e.Detail ? `${what} — ${e.Detail}` : what), el('td', TRIGGER_WORDS[e.Trigger] || ''));
    return tr;
  }), 3);
}
