// One account connector's panel in the Accounts view: selecting and loading it, its tabs,
// and the actions on it (connect/sign in, refresh now, disconnect, delete, sign-in mode,
// AuthValue import). Each tab renders in its own module under account-connector/.
// Must not: hold a tab's rendering, or keep anything of a previous account connector
// (selecting another forgets revealed secrets, forms and results).

import {
  tauri, call, $, state, go, toast, confirmed, act, statusBadge, copy, connectorDetail, when, errorText,
} from '../shared.js';
import { renderInspection, renderCredentialForm } from './account-connector/credential.js';
import { renderProperties } from './account-connector/properties.js';
import { renderHistory } from './account-connector/history.js';
import { renderMethods } from './account-connector/tester.js';

/** Selects an account connector (or none), forgetting what belonged to the previous one. */
export function selectAccountConnector(id, tab = null) {
  if (state.ac !== id) {
    state.ac = id;
    state.acView = null;
    state.revealed = {};
    state.credentialFormFor = null;
    $('tester-result').hidden = true;
    state.resultFor = null;
    state.tabFor = null; // its tab is chosen when it has loaded (see openingTab)
    progress(null);
  }
  if (tab) {
    selectTab(tab);
    state.tabFor = id;
  }
}

/**
 * The tab an account connector opens on: Credential while it holds no credential (that is
 * what there is to do), else the tab last used for it (Credential the first time).
 */
function openingTab(ac) {
  return ac.SecretsSet.length ? (state.tabs[ac.Id] || 'credential') : 'credential';
}

export async function openAccountConnectorById(id, tab = null) {
  const ac = await call('account_connector', { id });
  go.show('accounts');
  await go.selectAccount(ac.AccountId, ac.Id, tab);
}

export async function loadAccountConnector() {
  const id = state.ac;
  if (!id) return;
  let ac;
  try {
    ac = await call('account_connector', { id });
  } catch {
    if (state.ac === id) { selectAccountConnector(null); go.renderAccount(); } // deleted meanwhile
    return;
  }
  if (state.ac !== id) return;
  const [inspection, history, detail] = await Promise.all([
    call('inspect', { id }),
    call('history', { id }),
    connectorDetail(ac.Connector.Slug),
  ]);
  if (state.methodsFor !== id) {
    // An MCP server's tools come from the server: one that cannot be reached (not signed
    // in yet, say) says why in the tester, and the rest of the view still opens.
    state.methodsError = null;
    const methods = await call('methods', { id }).catch((err) => {
      state.methodsError = errorText(err);
      return [];
    });
    const requestTool = await call('mcp_request_tool', { id }).catch(() => false);
    if (state.ac !== id) return;
    state.methods = methods;
    state.methodsFor = id;
    $('agent-request-tool').checked = requestTool;
    renderMethods();
  }
  if (state.ac !== id) return;
  state.acView = ac;
  if (state.tabFor !== id) {
    state.tabFor = id;
    selectTab(openingTab(ac));
  }
  $('ac-panel').hidden = false;
  $('ac-title').textContent = `${ac.Name} — ${ac.Connector.Name}`;
  $('ac-status').replaceChildren(statusBadge(ac, !!inspection.SecretsUnavailable));
  if (document.activeElement !== $('sign-in-mode')) $('sign-in-mode').value = ac.SignInMode || 'default';
  const oauth = ac.Authentication.AuthType === 'OAuth2' || ac.Authentication.AuthType === 'OAuth1';
  for (const b of ['connect', 'refresh-now', 'sign-in-mode']) $(b).disabled = !oauth;
  $('connect').textContent = ac.Authenticated || ac.Status === 'Expired' ? 'Reconnect' : 'Connect';
  // Disconnect only when there is something to disconnect, and the button says why not.
  const nothing = ac.SecretsSet.length === 0 && ac.Status === 'NotAuthenticated';
  $('disconnect').dataset.unavailable = String(nothing);
  if ($('disconnect').dataset.armed !== 'true') $('disconnect').disabled = nothing;
  $('disconnect').title = nothing ? 'Nothing to disconnect: no credential is stored' : 'Forget the stored credential here (tokens are revoked at the provider where it can)';
  $('disconnect-why').textContent = nothing ? 'Nothing stored to disconnect.' : '';
  renderCredentialForm(ac);
  renderInspection(ac, inspection);
  renderProperties(ac, detail);
  renderHistory(history);
}

// Tabs: Credential, Properties, Method tester, History.
const TABS = ['credential', 'properties', 'tester', 'history'];
function selectTab(tab) {
  if (state.ac) state.tabs[state.ac] = tab;
  for (const t of TABS) {
    $(`tab-${t}`).setAttribute('aria-selected', String(t === tab));
    $(`tab-${t}`).tabIndex = t === tab ? 0 : -1;
    $(`panel-${t}`).hidden = t !== tab;
  }
}
for (const t of TABS) {
  $(`tab-${t}`).addEventListener('click', () => selectTab(t));
  $(`tab-${t}`).addEventListener('keydown', (e) => {
    const step = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const next = TABS[(TABS.indexOf(t) + step + TABS.length) % TABS.length];
    selectTab(next);
    $(`tab-${next}`).focus();
  });
}
selectTab('credential');

// Sign-in.
/** The device sign-in's code, QR code and countdown (RFC 8628), or nothing. */
function showDevice(d) {
  clearInterval(showDevice.timer);
  $('device-sign-in').hidden = !d;
  if (!d) return;
  $('device-user-code').textContent = d.UserCode;
  $('device-uri').textContent = d.VerificationUri;
  const rows = d.Qr || [];
  const canvas = $('device-qr');
  const scale = 4;
  canvas.hidden = !rows.length;
  canvas.width = canvas.height = rows.length * scale;
  const g = canvas.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#000';
  rows.forEach((row, y) => [...row].forEach((m, x) => { if (m === '1') g.fillRect(x * scale, y * scale, scale, scale); }));
  const ends = Date.now() + d.ExpiresIn * 1000;
  const tick = () => {
    const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
    $('device-countdown').textContent = left
      ? `The code expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}.`
      : 'The code has expired: cancel and connect again.';
  };
  tick();
  showDevice.timer = setInterval(tick, 1000);
}

function progress(text, { cancellable = false, link = null } = {}) {
  if (!text) showDevice(null);
  $('progress').hidden = !text;
  $('progress-text').textContent = text || '';
  if (!text) $('progress-address').textContent = '';
  $('cancel-sign-in').hidden = !cancellable;
  state.signInUrl = link;
  $('copy-sign-in-link').hidden = !link;
}

$('cancel-sign-in').addEventListener('click', () => act($('cancel-sign-in'), () => call('cancel_sign_in', { id: state.ac })));
$('copy-sign-in-link').addEventListener('click', () => act($('copy-sign-in-link'), () => copy(state.signInUrl, 'The sign-in link')));

export async function startSignIn() {
  const started = await call('connect', { id: state.ac });
  if (started.Mode === 'done') {
    toast('Authenticated: the app got its token by itself (no sign-in needed).');
  } else if (started.Mode === 'device') {
    progress('Sign in on any device: open the address below (or scan the QR code) and enter the code. Authdesk waits here.',
      { cancellable: true, link: started.SignInUrl || started.Device.VerificationUri });
    showDevice(started.Device);
  } else if (started.Mode === 'webview') {
    progress('Signing in in the Authdesk sign-in window…', { cancellable: true });
  } else if (started.BrowserProblem) {
    progress(`No browser could be opened (${started.BrowserProblem}). Copy the sign-in link into a browser; Authdesk completes the sign-in when it comes back.`,
      { cancellable: true, link: started.SignInUrl });
  } else {
    progress('Signing in in your browser… come back here when you are done. Wrong browser? Copy the sign-in link into another.',
      { cancellable: true, link: started.SignInUrl });
  }
}
$('connect').addEventListener('click', () => act($('connect'), startSignIn));

// Where the sign-in window is, as a browser's address bar says (the window's title says
// it too): the user sees which site asks for their password.
tauri.event.listen('sign-in-address', (event) => {
  const a = event.payload;
  if (a.AccountConnectorId !== state.ac) return;
  const box = $('progress-address');
  box.textContent = a.Secure ? `Now at 🔒 ${a.Host}` : `Now at ⚠ ${a.Scheme}://${a.Host} — not secure`;
  box.classList.toggle('insecure', !a.Secure);
});

tauri.event.listen('sign-in-finished', async (event) => {
  const r = event.payload;
  if (r.AccountConnectorId === state.ac) progress(null);
  await go.reload().catch(() => {});
  if (r.Ok) toast(r.Message || 'Signed in.');
  else toast(r.Message, { error: !r.Cancelled });
});

$('check-now').addEventListener('click', () => act($('check-now'), async () => {
  const r = await call('check_credential', { id: state.ac });
  if (r.Valid) toast(`The credential works: the check answered HTTP ${r.Status}.`);
  else toast(`The credential does not work: the check answered HTTP ${r.Status}. Set it again, or sign in again.`, { error: true });
}));

$('copy-setup-link').addEventListener('click', () => act($('copy-setup-link'), async () => {
  const link = await call('create_setup_link', { id: state.ac });
  await navigator.clipboard.writeText(link.Url);
  toast(`Setup link copied: it works once, until ${when(link.ExpiresAtUtc)}. Send it to the customer.`);
}));

$('refresh-now').addEventListener('click', () => act($('refresh-now'), async () => {
  progress('Refreshing…');
  try {
    await call('refresh_now', { id: state.ac });
    toast('Refreshed.');
  } finally {
    progress(null);
  }
}));

/**
 * The question a removal asks before it is done, from what it will do: revoke and remove,
 * only remove (nothing to revoke), or remove tokens that cannot be read (so cannot be
 * revoked at the provider).
 */
function removalQuestion(p, verb) {
  if (p.Unreadable) return `The stored tokens cannot be read, so they cannot be revoked at the provider. Click again to ${verb} anyway`;
  if (p.Revokes && p.Stored) return `Click again to revoke the tokens at the provider and ${verb}`;
  return `Click again to ${verb}`;
}

/** What a removal did, in words: revoked, revocation failed, or not revoked and why. */
function removalOutcome(report, done) {
  if (report.NotRevoked) return { text: `${done} ${report.NotRevoked[0].toUpperCase()}${report.NotRevoked.slice(1)}.`, error: false };
  if (report.Errors.length) return { text: `${done} Revocation at the provider failed: ${report.Errors.join('; ')}`, error: true };
  if (report.Revoked.length) return { text: `${done} Revoked at the provider: ${report.Revoked.join(', ')}.`, error: false };
  return { text: done, error: false };
}

/** Two clicks: the first asks what `preview` says will happen, the second does it. */
async function armedRemoval(btn, verb) {
  if (btn.dataset.armed === 'true') return confirmed(btn);
  const preview = await call('removal_preview', { id: state.ac });
  return confirmed(btn, removalQuestion(preview, verb));
}

$('disconnect').addEventListener('click', () => act($('disconnect'), async () => {
  if (!await armedRemoval($('disconnect'), 'forget the credential here')) return;
  const report = await call('disconnect', { id: state.ac });
  await go.reload();
  if (report.NothingStored) { toast('Nothing to disconnect: no credential is stored. Nothing was changed.'); return; }
  const o = removalOutcome(report, 'Disconnected.');
  toast(o.text, { error: o.error });
}));

$('delete-ac').addEventListener('click', () => act($('delete-ac'), async () => {
  const name = state.acView ? state.acView.Name : 'this connector';
  if (!await armedRemoval($('delete-ac'), 'delete it')) return;
  const report = await call('delete_account_connector', { id: state.ac });
  selectAccountConnector(null);
  await go.reload();
  const o = removalOutcome(report, `Deleted ${name}.`);
  toast(o.text, { error: o.error });
}));

$('sign-in-mode').addEventListener('change', () => act(null, async () => {
  await call('set_sign_in_mode', { id: state.ac, mode: $('sign-in-mode').value });
}));

$('authvalue-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    await call('set_auth_value', { id: state.ac, value: $('authvalue').value });
    $('authvalue').value = '';
    toast('AuthValue imported.');
  });
});
