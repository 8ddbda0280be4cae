// The Authdesk window: where it starts. It wires the views together (shared.js's `go`),
// switches between them (the nav bar, "/" to search), reads everything again when the
// shell says the data directory changed, and keeps the header (counts, the attention
// button, the keychain banner, notifications) true.
// The window talks to the shell only through Tauri commands, builds the DOM with
// textContent (never innerHTML of data), and sees a secret only when the user asks for that
// one value. It reads again when the shell says the data directory changed (`data-changed`,
// which includes changes made by the CLI or the local API), and when time alone changes a
// status (the open connector's token expires; once a minute for the rest, since an access
// token that runs out with nothing to renew it turns Expired without any write). Updates
// change only what changed: what the user is typing survives every one of them.
// Must not: render a view's content (each view has its module in views/) or hold helpers
// the views share (shared.js).

import {
  tauri, call, $, go, counted, needingAttention, PAGE, MAX_ROWS, state, el, toast, errorText, act, vaultProblem, debounce, latest,
} from './shared.js';
import {
  renderAccountList, loadAccount, renderAccount, selectAccount,
} from './views/accounts.js';
import { renderFindConnectors, find } from './views/dashboard.js';
import {
  loadAccountConnector, openAccountConnectorById, startSignIn,
} from './views/account-connector.js';
import { focusProperty } from './views/account-connector/properties.js';
import { renderLibrary, openLibrary } from './views/library.js';
import { loadSettings } from './views/settings.js';
import './views/agent-approval.js';

// How the views reach each other (shared.js's `go`): filled before anything can run.
Object.assign(go, {
  show,
  reload,
  selectAccount,
  renderAccount,
  openAccountConnector: openAccountConnectorById,
  openLibrary,
  signIn: startSignIn,
  focusProperty,
  restoreKeychainItem,
});

// ---- navigation ---------------------------------------------------------------------

for (const b of document.querySelectorAll('nav button')) {
  b.addEventListener('click', () => { show(b.dataset.view); foldMenu(); });
}
// Narrow windows: the views are in a menu (Escape or a choice closes it).
function foldMenu() {
  document.querySelector('header').classList.remove('open');
  $('menu-toggle').setAttribute('aria-expanded', 'false');
}
$('menu-toggle').addEventListener('click', () => {
  const open = document.querySelector('header').classList.toggle('open');
  $('menu-toggle').setAttribute('aria-expanded', String(open));
  if (open) document.querySelector('#views-nav button').focus();
});
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') foldMenu(); });

// Keyboard: "/" goes to the search of the view in front (the accounts search from a view
// without one), as in GitHub or Gmail; Escape in a search empties it.
const SEARCHES = { accounts: 'account-search', dashboard: 'find-search' };
document.addEventListener('keydown', (e) => {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t.closest && t.closest('input, textarea, select, [contenteditable]')) return;
  const front = Object.keys(SEARCHES).find((v) => !$(`view-${v}`).hidden);
  if (!front) show('accounts');
  e.preventDefault();
  const input = $(SEARCHES[front || 'accounts']);
  input.focus();
  input.select();
});
for (const id of Object.values(SEARCHES)) {
  $(id).addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !$(id).value) return;
    e.preventDefault();
    $(id).value = '';
    $(id).dispatchEvent(new Event('input'));
  });
}

function show(view) {
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.view === view);
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${view}`;
  if (view === 'settings') act(null, loadSettings);
  // Hidden views are built when shown: a window that never opens them never pays for them.
  if (view === 'library') renderLibrary();
  if (view === 'dashboard') {
    renderFindConnectors();
    act(null, () => find());
  }
}

// ---- data ---------------------------------------------------------------------------

async function reload() {
  const current = latest('overview');
  const search = state.accountSearch;
  const o = await call('overview', {
    accountSearch: search || null,
    accountLimit: Math.min(MAX_ROWS, Math.max(PAGE, state.accounts.length)),
  });
  if (!current()) return;
  state.overview = o;
  // A search typed while this was read has its own answer: this one's list is stale.
  if (search === state.accountSearch) {
    state.accounts = o.Accounts.Items;
    state.accountsTotal = o.Accounts.Total;
  }
  const signature = JSON.stringify(o.Connectors.map((c) => [c.Id, c.Name, c.ClientId, c.ClientSecretSet]));
  if (signature !== state.librarySignature) {
    state.librarySignature = signature;
    state.details = {};
  }
  renderAccountList();
  if (!$('view-library').hidden) renderLibrary();
  if (!$('view-dashboard').hidden) renderFindConnectors();
  renderAttention();
  if (state.accountId) {
    try {
      await loadAccount();
    } catch {
      state.accountId = null; // deleted meanwhile
      state.ac = null;
      renderAccount();
    }
  } else {
    renderAccount();
  }
  if (state.ac) await loadAccountConnector();
  if (!$('view-dashboard').hidden) await find();
  document.body.dataset.ready = 'true';
}

function renderAttention() {
  const c = state.overview.Counts;
  const bad = c.NeedsAttention;
  const a = $('attention');
  a.hidden = bad === 0;
  a.textContent = needingAttention(bad);
  $('totals').textContent = `${counted(c.Accounts, 'account')} · ${counted(c.AccountConnectors, 'connector')}`;
  const v = state.overview.Vault;
  // Any problem with where the key is kept shows, also one this process outlives for now
  // (the keychain item removed while it runs: secrets still open, not after a restart).
  const problem = !!(v && v.VaultId && v.Problem);
  $('vault-banner').hidden = !problem;
  $('vault-banner-text').textContent = !problem ? ''
    : vaultProblem() ? `Secrets cannot be opened: ${v.Problem}` : v.Problem;
  $('vault-banner-restore').hidden = !(problem && v.Restorable);
  for (const ac of state.overview.NeedingReauthentication) notifyOnce(ac);
}

$('attention').addEventListener('click', () => {
  $('find-status').value = '';
  $('find-search').value = '';
  $('find-connector').value = '';
  show('dashboard');
});
$('vault-banner-settings').addEventListener('click', () => show('settings'));
$('vault-banner-restore').addEventListener('click', () => act($('vault-banner-restore'), restoreKeychainItem));

/** Puts the data key this process holds back in the keychain, and says so. */
async function restoreKeychainItem() {
  await call('restore_keychain_item');
  toast('The data key is back in the keychain: secrets will open after a restart too.');
  await reload();
  if (!$('view-settings').hidden) await loadSettings();
}

const notified = new Set();
function notifyOnce(ac) {
  const key = `${ac.Id}:${ac.Status}:${ac.UpdatedAt}`;
  if (notified.has(key) || ac.Status !== 'NeedsReauthentication') return;
  notified.add(key);
  if (!('Notification' in window)) return;
  const send = () => new Notification('Authdesk: sign-in needed', { body: `${ac.Name} (${ac.Connector.Name}) needs the user to sign in again.` });
  if (Notification.permission === 'granted') send();
  else if (Notification.permission !== 'denied') Notification.requestPermission().then((p) => { if (p === 'granted') send(); });
}

// ---- start --------------------------------------------------------------------------

if (!tauri) {
  document.body.textContent = 'This page runs inside the Authdesk app.';
} else {
  reload().catch((e) => toast(errorText(e), { error: true, hint: e && e.hint }));
  // The shell says when anything in the data directory changed (this window, the
  // keep-alive, the local API, the CLI): only then is the data read again.
  const changed = debounce(() => reload().catch(() => {}), 150);
  tauri.event.listen('data-changed', changed);
  // Time changes statuses too (Expired): once a minute while the window is seen.
  setInterval(() => { if (document.visibilityState !== 'hidden') changed(); }, 60_000);
  // The ~600 IANA names are loaded into the pickers when one is first used, not at start
  // (they would cost the window memory it may never need).
  const loadTimezones = () => {
    if (loadTimezones.done) return;
    loadTimezones.done = true;
    call('timezones').then((names) => {
      $('timezone-names').replaceChildren(...names.map((n) => { const o = el('option'); o.value = n; return o; }));
    }).catch(() => { loadTimezones.done = false; });
  };
  for (const id of ['new-account-timezone', 'account-timezone']) $(id).addEventListener('focus', loadTimezones);
}
