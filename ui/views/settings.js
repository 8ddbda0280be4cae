// The Settings view: the local API (address, redirect URI, API key), the data directory
// and the health of its secrets, API clients, the allowed target origins, and the hand-over
// recipient and imports (views/handover.js), webhooks (views/webhooks.js).
// Must not: show a secret unless asked (the API key on Reveal; a new client's secret once).

import {
  call, $, go, state, el, button, toast, confirmed, act, badge, copy, when,
} from '../shared.js';
import { loadHandoverSettings } from './handover.js';
import { loadWebhooks } from './webhooks.js';

export async function loadSettings() {
  // A secret shown at creation (a new API client's, a new webhook endpoint's) is shown
  // until Settings is opened again: hidden first, before anything is awaited, so one made
  // while this reads is not hidden by it.
  $('api-client-secret').hidden = true;
  $('new-client-secret').textContent = '';
  $('webhook-secret').hidden = true;
  $('new-webhook-secret').textContent = '';
  const s = await call('settings');
  $('api-address').textContent = s.ApiAddress || `not running: ${s.ApiProblem}`;
  $('callback-uri').textContent = s.CallbackUri;
  $('data-dir').textContent = s.DataDir;
  $('database').textContent = s.Vault.Database;
  $('key-source').textContent = s.KeySource;
  const v = s.Vault;
  // The header's keychain banner follows what Settings just read.
  if (state.overview && JSON.stringify(state.overview.Vault) !== JSON.stringify(v)) go.reload().catch(() => {});
  // Read from the keychain each time Settings opens (the shell does not trust a key it
  // read earlier): an item removed while the app runs shows here at once.
  $('vault-health').replaceChildren(...(v.Available && !v.Problem
    ? [badge('OK: the data key opens this data directory\'s secrets', 'Verified')]
    : v.VaultId ? [badge(v.Available ? v.Problem : `Secrets cannot be opened: ${v.Problem}`, 'Error'),
      ...(v.Restorable ? [button('Restore the keychain item', 'small', () => act(null, () => go.restoreKeychainItem()))] : [])]
      : [el('span', 'No secret stored yet: the data key is created with the first one.', 'muted')]));
  await loadApiClients();
  renderOrigins(s.TargetOrigins);
  await loadWebhooks();
  await loadHandoverSettings();
}

function renderOrigins(origins) {
  $('origins').replaceChildren(...origins.map((o) => {
    const li = el('li');
    li.append(el('span', o), button('Remove', 'small danger', async () => {
      renderOrigins(await call('remove_target_origin', { origin: o }));
    }));
    return li;
  }));
  if (origins.length === 0) $('origins').append(el('li', 'None yet.', 'muted'));
}

async function loadApiClients() {
  const clients = await call('api_clients');
  $('api-clients').replaceChildren(...clients.map((c) => {
    const li = el('li');
    li.dataset.id = c.ClientId;
    li.append(el('span', `${c.Name} · ${c.ClientId}`), el('span', c.RevokedAt ? ` revoked ${when(c.RevokedAt)}` : '', 'muted'));
    if (!c.RevokedAt) {
      const revoke = el('button', 'Revoke', 'small danger');
      revoke.addEventListener('click', () => act(revoke, async () => {
        if (!confirmed(revoke, 'Click again: its tokens stop working')) return;
        await call('revoke_api_client', { clientId: c.ClientId });
        toast(`API client ${c.Name} revoked.`);
        await loadApiClients();
      }));
      li.append(revoke);
    }
    return li;
  }));
  if (clients.length === 0) $('api-clients').append(el('li', 'No API clients yet.', 'muted'));
}

$('api-client-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const c = await call('create_api_client', { name: $('api-client-name').value });
    $('api-client-name').value = '';
    $('new-client-id').textContent = c.ClientId;
    $('new-client-secret').textContent = c.ClientSecret;
    $('api-client-secret').hidden = false;
    await loadApiClients();
  });
});
$('copy-client-secret').addEventListener('click', () => act($('copy-client-secret'), () => copy($('new-client-secret').textContent, 'ClientSecret')));

$('reveal-key').addEventListener('click', () => act($('reveal-key'), async () => {
  if ($('reveal-key').textContent === 'Hide') {
    $('api-key').textContent = '••••••••';
    $('reveal-key').textContent = 'Reveal';
    return;
  }
  $('api-key').textContent = await call('reveal_api_key');
  $('reveal-key').textContent = 'Hide';
}));
$('copy-key').addEventListener('click', () => act($('copy-key'), async () => copy(await call('reveal_api_key'), 'API key')));
$('copy-callback').addEventListener('click', () => act($('copy-callback'), () => copy($('callback-uri').textContent, 'The redirect URI')));
$('rotate-key').addEventListener('click', () => act($('rotate-key'), async () => {
  if (!confirmed($('rotate-key'), 'Click again: programs using the old key stop working')) return;
  $('api-key').textContent = await call('rotate_api_key');
  $('reveal-key').textContent = 'Hide';
  toast('API key replaced.');
}));
$('origin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const added = await call('add_target_origin', { origin: $('origin').value });
    $('origin').value = '';
    $('origin-note').hidden = !added.Note;
    $('origin-note').textContent = added.Note || '';
    await loadSettings();
  });
});
