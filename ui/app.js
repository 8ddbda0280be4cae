// The Authdesk window. It talks to the shell only through Tauri commands, builds the DOM
// with textContent (never innerHTML of data), and sees a secret only when the user asks for
// that one value. It never reloads blindly: the shell says when the data directory changed
// (`data-changed`, which includes changes made by the CLI or the local API), and updates
// change only what changed: what the user is typing survives every one of them.

const tauri = window.__TAURI__;
const call = (cmd, args = {}) => tauri.core.invoke(cmd, args);
const $ = (id) => document.getElementById(id);

// Lists are pages: PAGE rows at a time, at most MAX_ROWS in one list (then: search).
const PAGE = 100;
const MAX_ROWS = 1000;

const state = {
  overview: null,
  accounts: [], // the account list's rows loaded so far
  accountsTotal: 0,
  accountSearch: '',
  loadingAccounts: false,
  accountId: null, // selected account
  accountRow: null,
  acs: [], // its account connectors loaded so far
  acsTotal: 0,
  acFilter: '',
  found: [], // dashboard search results loaded so far
  foundTotal: 0,
  ac: null, // selected account connector id
  acView: null, // its AccountConnector view
  tab: 'credential',
  revealed: {}, // secret field -> value, for the selected account connector only
  expiresAt: null, // for the live countdowns
  refreshExpiresAt: null,
  methods: [],
  methodsFor: null, // the account connector the methods belong to
  params: {}, // `${ac}:${method}` -> { parameter: typed value }
  resultFor: null, // `${ac}:${method}` the shown result belongs to
  credentialFormFor: null, // which form is rendered: `${ac}:${auth type}`
  library: null, // selected library connector (slug)
  details: {}, // slug -> connector_detail, cleared when the library changes
  librarySignature: '',
  signInUrl: null,
};

// ---- small helpers ------------------------------------------------------------------

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function button(text, className, onClick) {
  const b = el('button', text, className);
  b.type = 'button';
  if (onClick) b.addEventListener('click', () => act(b, onClick));
  return b;
}

/** Makes a row or list item usable from the keyboard as well as the mouse. */
function activate(node, fn) {
  node.tabIndex = 0;
  node.addEventListener('click', fn);
  node.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      fn();
    }
  });
}

/**
 * A message at the bottom right. Information goes away by itself; an error stays until it
 * is dismissed or replaced, with the buttons its hint offers ("Sign in again", ...).
 */
function toast(message, { error = false, hint = null, actions = [] } = {}) {
  const t = $('toast');
  $('toast-text').textContent = message;
  $('toast-actions').replaceChildren(...actions, ...hintActions(hint));
  t.className = error ? 'error' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  if (!error) toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}
$('toast-close').addEventListener('click', () => { $('toast').hidden = true; });

function errorText(e) {
  return (e && e.message) || String(e);
}

/** What the user can do about an error, as buttons (the core's hint, per surface). */
function hintActions(hint) {
  if (!hint) return [];
  switch (hint.Kind) {
    case 'SignIn':
      return [button('Sign in again', 'small', async () => {
        await openAccountConnectorById(hint.AccountConnectorId);
        await startSignIn();
      })];
    case 'SetClient':
      return [
        button('Set the library OAuth app', 'small', () => openLibrary(hint.Connector, 'client-id')),
        button(`Set ${hint.Missing} on this connection`, 'small', async () => {
          await openAccountConnectorById(hint.AccountConnectorId, 'properties');
          focusProperty(hint.Missing);
        }),
      ];
    case 'SetProperty':
      return [button(`Set ${hint.Property}`, 'small', async () => {
        await openAccountConnectorById(hint.AccountConnectorId, 'properties');
        focusProperty(hint.Property);
      })];
    case 'Keychain':
      return [button('Open Settings', 'small', () => show('settings'))];
    default:
      return [];
  }
}

/**
 * A destructive button asks once: the first click arms it ("Click again to …") for five
 * seconds, the second does it. Returns true on the second click.
 */
function confirmed(btn, question) {
  if (btn.dataset.armed === 'true') {
    clearTimeout(btn.armTimer);
    btn.dataset.armed = 'false';
    btn.textContent = btn.dataset.label;
    return true;
  }
  btn.dataset.label = btn.textContent;
  btn.dataset.armed = 'true';
  btn.textContent = question;
  btn.armTimer = setTimeout(() => {
    btn.dataset.armed = 'false';
    btn.textContent = btn.dataset.label;
  }, 5000);
  return false;
}

/** Runs a UI action with its button disabled and errors shown (with what to do). */
async function act(btn, fn) {
  if (btn) btn.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(errorText(e), { error: true, hint: e && e.hint });
    return undefined;
  } finally {
    if (btn) btn.disabled = false;
  }
}

const STATUS_LABELS = {
  Authenticated: 'Authenticated',
  NotAuthenticated: 'Not authenticated',
  NeedsReauthentication: 'Needs re-authentication',
  Error: 'Error',
};

function badge(text, cls) {
  return el('span', text, `badge ${cls}`);
}

/**
 * What is known about an account connector's credential, in one badge: secrets that
 * cannot be opened, an API key or Basic credentials set but not yet verified by a call (or
 * refused by one), else the status.
 */
function statusBadge(ac, secretsUnavailable = false) {
  if (secretsUnavailable && ac.SecretsSet.length) return badge('Secrets unavailable', 'Unavailable');
  const type = ac.Authentication.AuthType;
  if (ac.Status === 'Authenticated' && (type === 'ApiKey' || type === 'Basic')) {
    const what = type === 'ApiKey' ? 'Key' : 'Credentials';
    const check = ac.LastCheck;
    if (check && check.Ok) return badge(`${what} set · verified`, 'Verified');
    if (check) return badge(`${what} refused (HTTP ${check.HttpStatus})`, 'Error');
    return badge(`${what} set · not verified`, 'Unavailable');
  }
  return badge(STATUS_LABELS[ac.Status] || ac.Status, ac.Status);
}

function vaultProblem() {
  const v = state.overview && state.overview.Vault;
  return !!(v && v.VaultId && !v.Available);
}

function span(seconds) {
  const s = Math.abs(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

function when(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString();
}

function fill(tbody, rows, columns = 6) {
  tbody.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el('tr');
    const td = el('td', '(none)', 'muted');
    td.colSpan = columns;
    tr.append(td);
    tbody.append(tr);
  }
}

/** Calls `fn` after `ms` of quiet (typing in a search box). */
function debounce(fn, ms = 200) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

/** The latest of overlapping requests wins: `latest(key)` returns a check to call on answer. */
const generations = {};
function latest(key) {
  const g = (generations[key] = (generations[key] || 0) + 1);
  return () => generations[key] === g;
}

/**
 * Re-renders `container` keeping what the user typed: inputs marked `data-draft` get their
 * values back, and the focused one its focus and selection.
 */
function preserving(container, render) {
  const drafts = {};
  for (const i of container.querySelectorAll('[data-draft]')) drafts[i.dataset.draft] = i.value;
  const active = document.activeElement;
  const focus = active && container.contains(active) ? active.dataset.draft : null;
  let selection = null;
  try { if (focus) selection = [active.selectionStart, active.selectionEnd]; } catch { /* not a text input */ }
  render();
  for (const i of container.querySelectorAll('[data-draft]')) {
    if (drafts[i.dataset.draft] !== undefined) i.value = drafts[i.dataset.draft];
  }
  if (focus) {
    const i = [...container.querySelectorAll('[data-draft]')].find((x) => x.dataset.draft === focus);
    if (i) {
      i.focus();
      try { if (selection) i.setSelectionRange(...selection); } catch { /* not a text input */ }
    }
  }
}

async function copy(text, what) {
  await navigator.clipboard.writeText(text);
  toast(`${what} copied.`);
}

// ---- navigation ---------------------------------------------------------------------

for (const b of document.querySelectorAll('nav button')) {
  b.addEventListener('click', () => show(b.dataset.view));
}

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
  const o = await call('overview', {
    accountSearch: state.accountSearch || null,
    accountLimit: Math.min(MAX_ROWS, Math.max(PAGE, state.accounts.length)),
  });
  if (!current()) return;
  state.overview = o;
  state.accounts = o.Accounts.Items;
  state.accountsTotal = o.Accounts.Total;
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
  const bad = c.NeedsReauthentication + c.Error;
  const a = $('attention');
  a.hidden = bad === 0;
  a.textContent = bad === 1 ? '1 connector needs attention' : `${bad.toLocaleString()} connectors need attention`;
  $('totals').textContent = `${c.Accounts.toLocaleString()} accounts · ${c.AccountConnectors.toLocaleString()} connectors`;
  const v = state.overview.Vault;
  $('vault-banner').hidden = !vaultProblem();
  $('vault-banner-text').textContent = vaultProblem() ? `Secrets cannot be opened: ${v.Problem}` : '';
  for (const ac of state.overview.NeedingReauthentication) notifyOnce(ac);
}

$('attention').addEventListener('click', () => {
  $('find-status').value = '';
  $('find-search').value = '';
  $('find-connector').value = '';
  show('dashboard');
});
$('vault-banner-settings').addEventListener('click', () => show('settings'));

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

/** "shown of total" when the list is not all there. */
function countText(shown, total) {
  if (!total) return '';
  return shown < total ? `${shown.toLocaleString()} of ${total.toLocaleString()}` : total.toLocaleString();
}

// ---- accounts: a paged, searchable list ----------------------------------------------

function renderAccountList() {
  const list = $('account-list');
  const items = state.accounts.map((a) => {
    const li = el('li');
    li.dataset.id = a.Id;
    li.append(el('span', a.Name));
    if (a.NeedingAttention) {
      const b = el('span', String(a.NeedingAttention), 'badge NeedsReauthentication');
      b.title = `${a.NeedingAttention} need attention (re-authentication or an error)`;
      li.append(b);
    }
    li.classList.toggle('selected', a.Id === state.accountId);
    activate(li, () => act(null, () => selectAccount(a.Id)));
    return li;
  });
  list.replaceChildren(...items);
  if (items.length === 0) list.append(el('li', state.accountSearch ? 'No account matches.' : 'No accounts yet.', 'muted'));
  const shown = state.accounts.length;
  $('account-count').textContent = countText(shown, state.accountsTotal);
  $('accounts-more').hidden = shown >= state.accountsTotal || shown >= MAX_ROWS;
  $('accounts-cap').hidden = !(shown >= MAX_ROWS && shown < state.accountsTotal);
}

async function moreAccounts() {
  if (state.loadingAccounts || state.accounts.length >= Math.min(state.accountsTotal, MAX_ROWS)) return;
  state.loadingAccounts = true;
  const current = latest('accounts');
  try {
    const page = await call('accounts_page', { search: state.accountSearch || null, offset: state.accounts.length, limit: PAGE });
    if (!current()) return;
    state.accounts = state.accounts.concat(page.Items);
    state.accountsTotal = page.Total;
    renderAccountList();
  } finally {
    state.loadingAccounts = false;
  }
}

$('accounts-more').addEventListener('click', () => act($('accounts-more'), moreAccounts));
$('account-list').addEventListener('scroll', () => {
  const l = $('account-list');
  if (l.scrollTop + l.clientHeight >= l.scrollHeight - 40) moreAccounts().catch(() => {});
});
$('account-search').addEventListener('input', debounce(() => act(null, async () => {
  state.accountSearch = $('account-search').value.trim();
  const current = latest('accounts');
  const page = await call('accounts_page', { search: state.accountSearch || null, offset: 0, limit: PAGE });
  if (!current()) return;
  state.accounts = page.Items;
  state.accountsTotal = page.Total;
  renderAccountList();
  $('account-list').scrollTop = 0;
})));

async function selectAccount(id, ac = null, tab = null) {
  if (state.accountId !== id) {
    state.acs = [];
    state.acFilter = '';
    $('ac-filter').value = '';
    $('account-form').hidden = true;
  }
  state.accountId = id;
  selectAccountConnector(ac, tab);
  renderAccountList();
  await loadAccount();
  if (ac) await loadAccountConnector();
}

/** The selected account and its account connectors: the pages shown so far, re-read. */
async function loadAccount() {
  const id = state.accountId;
  const current = latest('account');
  const [account, page] = await Promise.all([
    call('account', { id }),
    call('account_connectors_page', {
      accountId: id, status: null, connector: null, search: state.acFilter || null, expiring: false,
      offset: 0, limit: Math.min(MAX_ROWS, Math.max(PAGE, state.acs.length)),
    }),
  ]);
  if (!current() || state.accountId !== id) return;
  state.accountRow = account;
  state.acs = page.Items;
  state.acsTotal = page.Total;
  renderAccount();
}

async function moreAccountConnectors() {
  const id = state.accountId;
  const page = await call('account_connectors_page', {
    accountId: id, status: null, connector: null, search: state.acFilter || null, expiring: false, offset: state.acs.length, limit: PAGE,
  });
  if (state.accountId !== id) return;
  state.acs = state.acs.concat(page.Items);
  state.acsTotal = page.Total;
  renderAccount();
}
$('ac-more').addEventListener('click', () => act($('ac-more'), moreAccountConnectors));
$('ac-filter').addEventListener('input', debounce(() => act(null, async () => {
  state.acFilter = $('ac-filter').value.trim();
  state.acs = [];
  await loadAccount();
})));

function acRow(c, withAccount, onOpen) {
  const tr = el('tr');
  tr.className = 'clickable' + (c.Id === state.ac ? ' selected' : '');
  tr.dataset.id = c.Id;
  const status = el('td');
  status.append(statusBadge(c, vaultProblem()));
  tr.append(el('td', c.Id));
  if (withAccount) tr.append(el('td', c.AccountName));
  tr.append(el('td', c.Name), el('td', `${c.Connector.Name} ${c.Connector.Version}`), status, el('td', when(c.ExpiresAt)));
  activate(tr, onOpen);
  return tr;
}

function renderAccount() {
  const account = state.accountId ? state.accountRow : null;
  $('account-empty').hidden = !!account;
  $('account-panel').hidden = !account;
  $('ac-panel').hidden = !state.ac;
  if (!account) return;
  $('account-title').textContent = account.Name;
  $('account-meta').textContent = [account.Id, account.Timezone, account.Description].filter(Boolean).join(' · ');
  fill($('ac-table').tBodies[0], state.acs.map((c) => acRow(c, false, () => {
    selectAccountConnector(c.Id);
    renderAccount();
    act(null, loadAccountConnector);
  })), 5);
  const shown = state.acs.length;
  $('ac-count').textContent = countText(shown, state.acsTotal);
  $('ac-more').hidden = shown >= state.acsTotal || shown >= MAX_ROWS;
  const select = $('install-connector');
  const current = select.value;
  select.replaceChildren(...state.overview.Connectors.map((c) => {
    const o = el('option', `${c.Name} (${c.Slug})`);
    o.value = c.Slug;
    return o;
  }));
  if (current) select.value = current;
}

$('new-account').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('create-account'), async () => {
    const a = await call('create_account', { name: $('new-account-name').value, timezone: $('new-account-timezone').value || null, description: null });
    $('new-account-name').value = '';
    $('new-account-timezone').value = '';
    state.accountId = a.Id;
    selectAccountConnector(null);
    state.acs = [];
    await reload();
    toast(`Account ${a.Name} created.`);
  });
});

$('edit-account').addEventListener('click', () => {
  const a = state.accountRow;
  $('account-name').value = a.Name;
  $('account-description').value = a.Description;
  $('account-timezone').value = a.Timezone;
  $('account-form').hidden = false;
  $('account-name').focus();
});
$('cancel-account').addEventListener('click', () => { $('account-form').hidden = true; });
$('account-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('save-account'), async () => {
    const a = await call('update_account', {
      id: state.accountId,
      name: $('account-name').value,
      description: $('account-description').value,
      timezone: $('account-timezone').value,
    });
    $('account-form').hidden = true;
    state.accountRow = a;
    renderAccount();
    toast(`Account ${a.Name} saved.`);
  });
});

$('delete-account').addEventListener('click', () => act($('delete-account'), async () => {
  const a = state.accountRow;
  if (!a || !confirmed($('delete-account'), 'Click again to delete the account and all its connectors')) return;
  await call('delete_account', { id: a.Id });
  state.accountId = null;
  selectAccountConnector(null);
  await reload();
}));

$('install').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('install-button'), async () => {
    const ac = await call('install', { accountId: state.accountId, connector: $('install-connector').value, name: $('install-name').value });
    $('install-name').value = '';
    selectAccountConnector(ac.Id);
    await reload();
    toast(`${ac.Name} installed.`);
  });
});

// ---- the dashboard: every account -----------------------------------------------------

function findFilter() {
  return {
    accountId: null,
    search: $('find-search').value.trim() || null,
    status: $('find-status').value || null,
    connector: $('find-connector').value || null,
    expiring: false,
  };
}

function openFound(c) {
  return () => act(null, async () => {
    show('accounts');
    await selectAccount(c.AccountId, c.Id);
  });
}

async function find(more = false) {
  const f = findFilter();
  const filtered = f.search || f.status || f.connector;
  $('dashboard-lists').hidden = !!filtered;
  $('find-results').hidden = !filtered;
  const current = latest('find');
  if (!filtered) {
    const d = await call('dashboard');
    if (!current()) return;
    fill($('attention-table').tBodies[0], d.NeedsAttention.map((c) => acRow(c, true, openFound(c))));
    fill($('expiring-table').tBodies[0], d.ExpiringNext.map((c) => acRow(c, true, openFound(c))));
    $('attention-count').textContent = d.NeedsAttentionTotal ? countText(d.NeedsAttention.length, d.NeedsAttentionTotal) : '';
    $('find-count').textContent = '';
    return;
  }
  const page = await call('account_connectors_page', { ...f, offset: more ? state.found.length : 0, limit: PAGE });
  if (!current()) return;
  state.found = more ? state.found.concat(page.Items) : page.Items;
  state.foundTotal = page.Total;
  fill($('find-table').tBodies[0], state.found.map((c) => acRow(c, true, openFound(c))));
  const shown = state.found.length;
  $('find-count').textContent = shown ? countText(shown, state.foundTotal) : 'none found';
  $('find-more').hidden = shown >= state.foundTotal || shown >= MAX_ROWS;
}

const findNow = debounce(() => act(null, () => find()));
$('find-form').addEventListener('submit', (e) => { e.preventDefault(); findNow(); });
$('find-search').addEventListener('input', findNow);
$('find-status').addEventListener('change', findNow);
$('find-connector').addEventListener('change', findNow);
$('find-more').addEventListener('click', () => act($('find-more'), () => find(true)));

// ---- one account connector ----------------------------------------------------------

/** Selects an account connector (or none), forgetting what belonged to the previous one. */
function selectAccountConnector(id, tab = null) {
  if (state.ac !== id) {
    state.ac = id;
    state.acView = null;
    state.revealed = {};
    state.credentialFormFor = null;
    $('tester-result').hidden = true;
    state.resultFor = null;
    progress(null);
  }
  if (tab) selectTab(tab);
}

async function openAccountConnectorById(id, tab = null) {
  const ac = await call('account_connector', { id });
  show('accounts');
  await selectAccount(ac.AccountId, ac.Id, tab);
}

async function connectorDetail(slug) {
  if (!state.details[slug]) state.details[slug] = await call('connector_detail', { connector: slug });
  return state.details[slug];
}

async function loadAccountConnector() {
  const id = state.ac;
  if (!id) return;
  let ac;
  try {
    ac = await call('account_connector', { id });
  } catch {
    if (state.ac === id) { selectAccountConnector(null); renderAccount(); } // deleted meanwhile
    return;
  }
  if (state.ac !== id) return;
  const [inspection, history, detail] = await Promise.all([
    call('inspect', { id }),
    call('history', { id }),
    connectorDetail(ac.Connector.Slug),
  ]);
  if (state.methodsFor !== id) {
    const methods = await call('methods', { id });
    if (state.ac !== id) return;
    state.methods = methods;
    state.methodsFor = id;
    renderMethods();
  }
  if (state.ac !== id) return;
  state.acView = ac;
  $('ac-panel').hidden = false;
  $('ac-title').textContent = `${ac.Name} — ${ac.Connector.Name}`;
  $('ac-status').replaceChildren(statusBadge(ac, !!inspection.SecretsUnavailable));
  if (document.activeElement !== $('sign-in-mode')) $('sign-in-mode').value = ac.SignInMode || 'default';
  const oauth = ac.Authentication.AuthType === 'OAuth2';
  for (const b of ['connect', 'refresh-now', 'sign-in-mode']) $(b).disabled = !oauth;
  $('connect').textContent = ac.Authenticated ? 'Reconnect' : 'Connect';
  renderInspection(ac, inspection);
  renderCredentialForm(ac);
  renderProperties(ac, detail);
  renderHistory(history);
}

// Tabs: Credential, Properties, Method tester, History.
const TABS = ['credential', 'properties', 'tester', 'history'];
function selectTab(tab) {
  state.tab = tab;
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

// JWT times as dates next to the raw value.
const JWT_TIMES = ['exp', 'iat', 'nbf', 'auth_time'];

function renderInspection(ac, i) {
  const dl = $('inspector');
  const type = ac.Authentication.AuthType;
  const rows = [
    ['Status', statusBadge(ac, !!i.SecretsUnavailable)],
    ['Auth type', (i.OAuth2Type ? `${i.AuthType} (${i.OAuth2Type})` : i.AuthType)
      + (ac.Authentication.IsDefault ? '' : ` — ${ac.Authentication.AuthName}`)],
  ];
  if (type === 'OAuth2') {
    rows.push(
      ['Scopes', i.Scopes.length ? i.Scopes.join(' ') : '—'],
      ['Token type', i.TokenType || '—'],
      ['Expires', el('span', '', 'countdown')],
      ['Refresh expires', el('span', '', 'refresh-countdown')],
      ['Refresh margin', i.RefreshMarginSeconds == null ? '—'
        : `${i.RefreshMarginSeconds} s before expiry${i.RefreshDueAt ? ` (next refresh due ${when(i.RefreshDueAt)})` : ''}`],
    );
  } else if (type === 'ApiKey' || type === 'Basic') {
    const c = ac.LastCheck;
    rows.push(['Last check', c ? `${c.Ok ? 'worked' : 'refused'}: a call answered HTTP ${c.HttpStatus} at ${when(c.At)}`
      : (ac.SecretsSet.length ? 'not verified yet: a successful method call verifies it' : '—')]);
  }
  rows.push(['Authenticated at', when(i.AuthenticatedAt)]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dd = el('dd');
    if (v instanceof Node) dd.append(v); else dd.textContent = v;
    dd.id = `inspect-${k.toLowerCase().replace(/\s+/g, '-')}`;
    return [el('dt', k), dd];
  }));
  state.expiresAt = i.ExpiresAt;
  state.refreshExpiresAt = i.RefreshExpiresAt;
  tick();
  // The last error stays in view (a toast goes away), with what to do about it.
  const box = $('last-error');
  box.hidden = !i.LastError && !i.SecretsUnavailable;
  $('last-error-text').textContent = i.SecretsUnavailable ? `Secrets cannot be opened: ${i.SecretsUnavailable}` : (i.LastError || '');
  const actions = [];
  if (i.SecretsUnavailable) actions.push(button('Open Settings', 'small', () => show('settings')));
  else if (ac.Status === 'NeedsReauthentication' && type === 'OAuth2') actions.push(button('Sign in again', 'small', startSignIn));
  $('last-error-actions').replaceChildren(...actions);
  renderSecrets(ac, i);
}

function renderSecrets(ac, i) {
  const parts = [];
  for (const s of i.Secrets) {
    const div = el('div', null, 'secret');
    div.dataset.field = s.Field;
    const head = el('div', null, 'row');
    const shown = state.revealed[s.Field];
    head.append(el('strong', s.Field), el('code', shown ?? s.Masked));
    head.append(
      button(shown === undefined ? 'Reveal' : 'Hide', 'small', async () => {
        if (state.revealed[s.Field] === undefined) {
          state.revealed[s.Field] = await call('reveal_secret', { id: ac.Id, field: s.Field });
        } else {
          delete state.revealed[s.Field];
        }
        renderSecrets(ac, i);
      }),
      button('Copy', 'small', async () => copy(await call('reveal_secret', { id: ac.Id, field: s.Field }), s.Field)),
    );
    div.append(head);
    if (s.Jwt) {
      const claims = s.Jwt.Claims ?? s.Jwt.claims ?? {};
      const times = JWT_TIMES.filter((k) => typeof claims[k] === 'number')
        .map((k) => `${k} ${claims[k]} = ${new Date(claims[k] * 1000).toLocaleString()} (${span(claims[k] - Date.now() / 1000)})`);
      div.append(el('div', 'JWT claims (decoded, not verified):', 'muted'));
      if (times.length) div.append(el('div', times.join('\n'), 'claims jwt-times'));
      div.append(el('pre', JSON.stringify(claims, null, 2), 'claims'));
    }
    parts.push(div);
  }
  if (i.Secrets.length === 0 && !i.SecretsUnavailable) parts.push(el('p', 'No credentials stored.', 'muted'));
  $('secrets').replaceChildren(...parts);
}

function tick() {
  const now = Date.now();
  for (const [cls, iso] of [['countdown', state.expiresAt], ['refresh-countdown', state.refreshExpiresAt]]) {
    const e = document.querySelector(`.${cls}`);
    if (!e) continue;
    e.textContent = iso ? `${when(iso)} (${span((new Date(iso).getTime() - now) / 1000)})` : '—';
  }
}
setInterval(tick, 1000);

// Credential forms, one per way to authenticate. Rendered when the account connector or
// its way changes, never by an update: what is typed stays.
function field(labelText, id, { type = 'text', placeholder = '' } = {}) {
  const label = el('label', labelText);
  label.htmlFor = id;
  const input = el('input');
  input.id = id;
  input.type = type;
  input.placeholder = placeholder;
  input.autocomplete = 'off';
  return [label, input];
}

/** A password field with a Show/Hide button. */
function secretField(labelText, id, placeholder = '') {
  const [label, input] = field(labelText, id, { type: 'password', placeholder });
  const row = el('div', null, 'row');
  const toggle = el('button', 'Show', 'small');
  toggle.type = 'button';
  toggle.setAttribute('aria-label', `Show ${labelText}`);
  toggle.addEventListener('click', () => {
    input.type = input.type === 'password' ? 'text' : 'password';
    toggle.textContent = input.type === 'password' ? 'Show' : 'Hide';
  });
  row.append(input, toggle);
  return [label, row];
}

/** Text someone pasted where an API key belongs but that looks like JSON (tokens?). */
function looksLikeJson(text) {
  return /^\s*[[{]/.test(text) || /"[A-Za-z_]+"\s*:/.test(text);
}

function renderCredentialForm(ac) {
  const type = ac.Authentication.AuthType;
  const key = `${ac.Id}:${type}`;
  if (state.credentialFormFor === key) return;
  state.credentialFormFor = key;
  const box = $('credential-form');
  const form = el('form', null, 'card stack');
  form.id = 'cred-form';
  if (type === 'ApiKey') {
    form.append(el('h3', ac.SecretsSet.length ? 'Replace the API key' : 'API key'),
      ...secretField('API key', 'cred-key'));
    const save = el('button', 'Save API key');
    save.type = 'submit';
    save.id = 'save-credential';
    form.append(save);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(null, async () => {
        const key = $('cred-key').value;
        if (looksLikeJson(key) && !confirmed(save, 'Save it anyway (it looks like JSON)')) {
          toast('This looks like JSON (tokens?), not an API key. Check what you pasted; click again to save it as the key anyway.', { error: true });
          return;
        }
        save.disabled = true;
        try {
          await call('set_credential', { id: ac.Id, credential: { Kind: 'ApiKey', Key: key } });
        } finally {
          save.disabled = false;
        }
        $('cred-key').value = '';
        toast('API key saved. A successful method call verifies it.');
      });
    });
  } else if (type === 'Basic') {
    form.append(el('h3', ac.SecretsSet.length ? 'Replace the username and password' : 'Username and password'),
      ...field('Username', 'cred-username'), ...secretField('Password', 'cred-password'));
    const save = el('button', 'Save credentials');
    save.type = 'submit';
    save.id = 'save-credential';
    form.append(save);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(save, async () => {
        await call('set_credential', {
          id: ac.Id,
          credential: { Kind: 'Basic', Username: $('cred-username').value, Password: $('cred-password').value },
        });
        $('cred-password').value = '';
        toast('Credentials saved (sent as HTTP Basic). A successful method call verifies them.');
      });
    });
  } else if (type === 'OAuth2') {
    const details = el('details');
    details.append(el('summary', 'Import tokens obtained elsewhere'));
    const inner = el('div', null, 'stack');
    inner.append(
      ...secretField('Access token', 'cred-access'),
      ...secretField('Refresh token', 'cred-refresh'),
      ...field('Expires (ISO 8601, e.g. 2030-01-01T00:00:00Z)', 'cred-expires'),
      ...field('Refresh token expires (optional)', 'cred-refresh-expires'),
    );
    const save = el('button', 'Import tokens');
    save.type = 'submit';
    save.id = 'save-credential';
    inner.append(save);
    details.append(inner);
    form.append(details);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(save, async () => {
        await call('set_credential', {
          id: ac.Id,
          credential: {
            Kind: 'OAuth2',
            AccessToken: $('cred-access').value || null,
            RefreshToken: $('cred-refresh').value || null,
            Expires: $('cred-expires').value || null,
            RefreshExpires: $('cred-refresh-expires').value || null,
          },
        });
        for (const f of ['cred-access', 'cred-refresh', 'cred-expires', 'cred-refresh-expires']) $(f).value = '';
        toast('Tokens imported.');
      });
    });
  }
  box.replaceChildren(...(form.childElementCount ? [form] : []));
}

// Properties: one row per declared property, its description, a required marker, and a
// secret input where the definition says so. Names cannot be mistyped: there is no name
// field.
const OAUTH_PROPERTIES = [
  { name: 'ClientId', description: "This connection's own OAuth app (overrides the library's).", secret: false },
  { name: 'ClientSecret', description: 'The secret of that OAuth app.', secret: true },
  { name: 'RedirectUri', description: "The redirect URI that app registered, if not the local API's callback.", secret: false },
];

function declaredProperties(ac, detail) {
  const def = detail.Definition;
  const list = (def.properties || []).map((p) => ({ ...p }));
  const oauth = [def.auth, ...(def.auth_methods || []).map((m) => m.auth)].some((a) => a && a.type === 'oauth2');
  if (oauth) for (const p of OAUTH_PROPERTIES) if (!list.some((x) => x.name === p.name)) list.push({ ...p, required: false });
  return list;
}

function renderProperties(ac, detail) {
  const box = $('properties');
  preserving(box, () => {
    const declared = declaredProperties(ac, detail);
    const rows = declared.map((p) => {
      const stored = ac.Properties.find((x) => x.Name === p.name);
      const div = el('div', null, 'prop-row');
      div.dataset.property = p.name;
      const head = el('div', null, 'row');
      head.append(el('strong', p.name));
      if (p.required) head.append(el('span', 'required', 'required'));
      head.append(el('span', stored ? (stored.IsSecret ? '•••• set' : `= ${stored.Value}`) : 'not set', 'muted'));
      div.append(head);
      if (p.description) div.append(el('div', p.description, 'muted'));
      const form = el('form', null, 'row');
      const input = el('input');
      input.type = p.secret ? 'password' : 'text';
      input.autocomplete = 'off';
      input.dataset.draft = `${ac.Id}:prop:${p.name}`;
      input.setAttribute('aria-label', p.name);
      input.placeholder = stored && p.secret ? 'type to replace the stored value' : (p.example ? `e.g. ${p.example}` : '');
      const save = el('button', stored ? 'Replace' : 'Set', 'small');
      save.type = 'submit';
      form.append(input, save);
      if (stored) form.append(button('Remove', 'small danger', async () => {
        await call('remove_property', { id: ac.Id, name: p.name });
        toast(`${p.name} removed.`);
      }));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(save, async () => {
          await call('set_property', { id: ac.Id, name: p.name, value: input.value });
          input.value = '';
          toast(`${p.name} saved.`);
        });
      });
      div.append(form);
      return div;
    });
    // Stored under a name the definition no longer declares: can only be removed.
    for (const stored of ac.Properties.filter((x) => !declared.some((p) => p.name === x.Name))) {
      const div = el('div', null, 'prop-row');
      div.append(el('strong', stored.Name), el('span', ' — not declared by this connector', 'muted'),
        button('Remove', 'small danger', async () => { await call('remove_property', { id: ac.Id, name: stored.Name }); }));
      rows.push(div);
    }
    if (ac.MissingProperties.length) rows.unshift(el('p', `Required and missing: ${ac.MissingProperties.join(', ')}`, 'note'));
    if (!rows.length) rows.push(el('p', 'This connector declares no properties.', 'muted'));
    box.replaceChildren(...rows);
  });
}

function focusProperty(name) {
  const row = [...document.querySelectorAll('#properties .prop-row')].find((r) => r.dataset.property === name);
  if (row) row.querySelector('input').focus();
}

const EVENT_WORDS = {
  signed_in: 'Signed in',
  authenticated: 'Obtained a token (the connector\'s own grant)',
  refreshed: 'Refreshed the access token',
  needs_reauth: 'The provider refused the grant: the user must sign in again',
  refresh_failed: 'A refresh failed; it will be retried',
  refresh_discarded: 'A refresh was discarded (the credential changed meanwhile)',
  sign_in_failed: 'A sign-in failed',
  auth_value_set: 'Credentials set',
  disconnected: 'Disconnected: tokens forgotten (and revoked at the provider)',
  revocation_failed: 'Revocation at the provider failed',
  verified: 'A method call worked with the stored credential',
  refused: 'The provider refused the stored credential',
};
const TRIGGER_WORDS = {
  call: 'a method call needed it',
  keep_alive: 'the keep-alive (before expiry, or to keep an idle refresh token alive)',
  user: 'you asked (Refresh now or the CLI)',
};

function renderHistory(events) {
  fill($('history').tBodies[0], events.map((e) => {
    const tr = el('tr');
    const what = EVENT_WORDS[e.Kind] || e.Kind.replace(/_/g, ' ');
    tr.append(el('td', when(e.At)), el('td', e.Detail ? `${what} — ${e.Detail}` : what), el('td', TRIGGER_WORDS[e.Trigger] || ''));
    return tr;
  }), 3);
}

// The method tester: what is typed is kept per account connector and method; a result is
// shown only with the method it came from.
function renderMethods() {
  const select = $('tester-method');
  const current = select.value;
  select.replaceChildren(...state.methods.map((m) => {
    const o = el('option', `${m.Name} — ${m.HttpMethod} ${m.Path}`);
    o.value = m.Id;
    return o;
  }));
  if (state.methods.some((m) => m.Id === current)) select.value = current;
  $('run-method').disabled = state.methods.length === 0;
  renderParams();
}

function paramKey() {
  return `${state.ac}:${$('tester-method').value}`;
}

function renderParams() {
  const m = state.methods.find((x) => x.Id === $('tester-method').value);
  $('tester-description').textContent = m ? m.Description : (state.methods.length ? '' : 'This connector has no methods.');
  const key = paramKey();
  const typed = state.params[key] || (state.params[key] = {});
  const box = $('tester-params');
  box.replaceChildren(...(m ? m.Parameters : []).flatMap((p) => {
    const id = `param-${p.Name}`;
    const label = el('label', `${p.Name}${p.Required ? ' *' : ''}`);
    label.htmlFor = id;
    const input = el('input');
    input.id = id;
    input.name = p.Name;
    input.placeholder = `${p.Location}${p.Required ? ', required' : ''}${p.Description ? ` — ${p.Description}` : ''}`;
    input.required = p.Required;
    input.value = typed[p.Name] ?? '';
    input.addEventListener('input', () => { typed[p.Name] = input.value; });
    return [label, input];
  }));
  $('tester-result').hidden = state.resultFor !== key;
}
$('tester-method').addEventListener('change', renderParams);

$('tester').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('run-method'), async () => {
    const parameters = {};
    for (const input of $('tester-params').querySelectorAll('input')) {
      if (input.value !== '') parameters[input.name] = input.value;
    }
    const key = paramKey();
    const out = $('tester-result');
    state.resultFor = key;
    out.hidden = false;
    out.textContent = 'Running…';
    try {
      const r = await call('call_method', { id: state.ac, method: $('tester-method').value, parameters });
      const headers = Object.entries(r.Headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      const body = typeof r.Body === 'string' ? r.Body : JSON.stringify(r.Body, null, 2);
      if (state.resultFor === key) out.textContent = `HTTP ${r.Status}\n${headers}\n\n${body}`;
    } catch (err) {
      if (state.resultFor === key) out.textContent = errorText(err);
      throw err;
    }
  });
});

// Sign-in.
function progress(text, { cancellable = false, link = null } = {}) {
  $('progress').hidden = !text;
  $('progress-text').textContent = text || '';
  $('cancel-sign-in').hidden = !cancellable;
  state.signInUrl = link;
  $('copy-sign-in-link').hidden = !link;
}

$('cancel-sign-in').addEventListener('click', () => act($('cancel-sign-in'), () => call('cancel_sign_in', { id: state.ac })));
$('copy-sign-in-link').addEventListener('click', () => act($('copy-sign-in-link'), () => copy(state.signInUrl, 'The sign-in link')));

async function startSignIn() {
  const started = await call('connect', { id: state.ac });
  if (started.Mode === 'webview') {
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

tauri.event.listen('sign-in-finished', async (event) => {
  const r = event.payload;
  if (r.AccountConnectorId === state.ac) progress(null);
  await reload().catch(() => {});
  if (r.Ok) toast('Signed in.');
  else toast(r.Message, { error: !r.Cancelled });
});

$('refresh-now').addEventListener('click', () => act($('refresh-now'), async () => {
  progress('Refreshing…');
  try {
    await call('refresh_now', { id: state.ac });
    toast('Refreshed.');
  } finally {
    progress(null);
  }
}));

$('disconnect').addEventListener('click', () => act($('disconnect'), async () => {
  if (!confirmed($('disconnect'), 'Click again to revoke and forget the tokens')) return;
  const report = await call('disconnect', { id: state.ac });
  await reload();
  if (report.Errors.length) toast(`Disconnected here; revocation failed: ${report.Errors.join('; ')}`, { error: true });
  else toast('Disconnected.');
}));

$('delete-ac').addEventListener('click', () => act($('delete-ac'), async () => {
  if (!confirmed($('delete-ac'), 'Click again to revoke and delete')) return;
  const report = await call('delete_account_connector', { id: state.ac });
  selectAccountConnector(null);
  await reload();
  if (report.Errors.length) toast(`Deleted; revocation failed: ${report.Errors.join('; ')}`, { error: true });
  else toast('Deleted.');
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

// ---- library ------------------------------------------------------------------------

function authWays(c) {
  return c.Authentication.map((a) => (a.AuthType === 'OAuth2' ? `${a.AuthType} (${a.OAuth2Type})` : a.AuthType)).join(' or ');
}

function renderLibrary() {
  if (!state.overview) return;
  const cs = state.overview.Connectors;
  fill($('library').tBodies[0], cs.map((c) => {
    const tr = el('tr');
    tr.className = 'clickable' + (c.Slug === state.library ? ' selected' : '');
    tr.dataset.slug = c.Slug;
    const oauth = c.Authentication.some((a) => a.AuthType === 'OAuth2');
    const app = c.ClientId ? `${c.ClientId}${c.ClientSecretSet ? ' + secret' : ' (public)'}` : oauth ? 'not set' : '—';
    const name = el('td');
    name.append(el('div', `${c.Name}`), el('div', `${c.Slug} · v${c.Version}${c.Source === 'User' ? ' · yours' : ''}`, 'muted'));
    tr.append(name, el('td', authWays(c)), el('td', app));
    activate(tr, () => act(null, () => openLibrary(c.Slug)));
    return tr;
  }), 3);
}

/** The dashboard's connector filter (filled when the dashboard is shown). */
function renderFindConnectors() {
  if (!state.overview) return;
  const cs = state.overview.Connectors;
  const byConnector = $('find-connector');
  const chosen = byConnector.value;
  byConnector.replaceChildren(el('option', 'Any connector'), ...cs.map((c) => {
    const o = el('option', c.Name);
    o.value = c.Slug;
    return o;
  }));
  byConnector.options[0].value = '';
  byConnector.value = chosen;
}

async function openLibrary(slug, focus = null) {
  show('library');
  state.library = slug;
  delete state.details[slug];
  const d = await connectorDetail(slug);
  renderLibrary();
  renderLibraryDetail(d);
  if (focus) $(focus).focus();
}

function renderLibraryDetail(d) {
  const c = d.Connector;
  const def = d.Definition;
  $('library-empty').hidden = true;
  $('library-detail').hidden = false;
  $('lib-title').textContent = `${c.Name} (${c.Slug}, v${c.Version})`;
  $('lib-source').textContent = c.Source === 'User' ? 'Your connector' : 'Built in';
  $('lib-description').textContent = c.Description;
  $('rename-form').hidden = c.Source !== 'User';
  $('rename-name').value = c.Name;
  const ways = [def.auth, ...(def.auth_methods || []).map((m) => m.auth)];
  const rows = [];
  for (const a of ways) {
    if (a.type === 'oauth2') {
      rows.push(['OAuth 2.0', `${a.grant.replace(/_/g, ' ')} grant`],
        ['Authorize URL', a.authorize_url || '—'], ['Token URL', a.token_url], ['Revocation URL', a.revoke_url || '—'],
        ['Scopes', (a.scopes || []).join(' ') || '—'], ['PKCE', a.pkce ? 'yes (S256)' : 'no'],
        ['Client authentication', { basic: 'HTTP Basic', body: 'form body', none: 'none (public client)' }[a.client_auth] || a.client_auth],
        ['Sign-in runs in', a.sign_in === 'system_browser' ? 'the system browser' : 'an embedded window']);
    } else if (a.type === 'api_key') {
      rows.push(['API key', `${a.placement === 'query' ? 'query parameter' : 'header'} ${a.name}${a.prefix ? ` (prefix "${a.prefix}")` : ''}`]);
    } else {
      rows.push(['Auth', a.type === 'basic' ? 'HTTP Basic (username and password)' : 'none']);
    }
  }
  if (def.api_base_url) rows.push(['API base URL', def.api_base_url]);
  $('lib-auth').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
  const oauth = ways.some((a) => a.type === 'oauth2');
  $('client').hidden = !oauth;
  $('lib-redirect').textContent = d.RedirectUri;
  $('client-id').value = c.ClientId || '';
  $('client-secret').value = '';
  $('client-public').checked = !!c.ClientId && !c.ClientSecretSet;
  $('client-secret-note').textContent = c.ClientSecretSet
    ? 'A ClientSecret is stored. Leave this blank to keep it; type a new one to replace it.'
    : c.ClientId ? 'No ClientSecret is stored: this is a public client.' : 'Not set up yet.';
  fill($('lib-properties').tBodies[0], (def.properties || []).map((p) => {
    const tr = el('tr');
    tr.append(el('td', `${p.name}${p.secret ? ' (secret)' : ''}`), el('td', p.required ? 'yes' : 'no'), el('td', p.description || ''));
    return tr;
  }), 3);
  fill($('lib-methods').tBodies[0], (def.methods || []).map((m) => {
    const tr = el('tr');
    tr.append(el('td', m.id), el('td', `${m.http_method.toUpperCase()} ${m.path}`), el('td', m.description || m.name));
    return tr;
  }), 3);
  $('lib-sources').replaceChildren(...(def.sources || []).map((s) => el('li', s)));
  if (!(def.sources || []).length) $('lib-sources').append(el('li', '—', 'muted'));
  $('lib-definition').textContent = d.DefinitionText;
}

$('copy-redirect').addEventListener('click', () => act($('copy-redirect'), () => copy($('lib-redirect').textContent, 'The redirect URI')));
$('copy-definition').addEventListener('click', () => act($('copy-definition'), () => copy($('lib-definition').textContent, 'The definition')));
$('client-public').addEventListener('change', () => {
  if ($('client-public').checked) $('client-secret').value = '';
});

$('client').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('save-client'), async () => {
    const c = await call('set_connector_client', {
      connector: state.library,
      clientId: $('client-id').value,
      clientSecret: $('client-secret').value || null,
      public: $('client-public').checked,
    });
    toast(c.ClientSecretSet ? 'OAuth app saved (ClientSecret stored).' : 'OAuth app saved as a public client.');
    await openLibrary(state.library);
  });
});

$('rename-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const c = await call('rename_connector', { connector: state.library, name: $('rename-name').value });
    toast(`Renamed to ${c.Name}.`);
    await openLibrary(c.Slug);
  });
});

$('add-connector').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const file = $('connector-file').files[0];
    if (!file) throw new Error('Choose a connector definition file (.toml) first.');
    const c = await call('add_connector', { fileName: file.name, text: await file.text(), replace: $('connector-replace').checked });
    toast(`${c.Name} added to the library.`);
    await openLibrary(c.Slug);
  });
});

$('discover').addEventListener('submit', (e) => {
  e.preventDefault();
  act(e.submitter, async () => {
    toast('Reading the provider\'s metadata…');
    const c = await call('discover_connector', { issuer: $('discover-issuer').value, id: $('discover-id').value || null, name: $('discover-name').value || null });
    toast(`${c.Name} added to the library.`);
    await openLibrary(c.Slug);
  });
});

$('oauth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('create-oauth'), async () => {
    const c = await call('add_oauth_connector', {
      form: {
        Id: $('oauth-id').value,
        Name: $('oauth-name').value,
        AuthorizeUrl: $('oauth-authorize').value,
        TokenUrl: $('oauth-token').value,
        RevokeUrl: $('oauth-revoke').value || null,
        ApiBaseUrl: $('oauth-api').value || null,
        Scopes: $('oauth-scopes').value,
        Pkce: $('oauth-pkce').checked,
        ClientAuth: $('oauth-client-auth').value,
        SignIn: $('oauth-sign-in').value,
      },
    });
    $('oauth-form').reset();
    toast(`${c.Name} created. Set its OAuth app below.`);
    await openLibrary(c.Slug, 'client-id');
  });
});

// ---- settings -----------------------------------------------------------------------

async function loadSettings() {
  const s = await call('settings');
  $('api-address').textContent = s.ApiAddress || `not running: ${s.ApiProblem}`;
  $('callback-uri').textContent = s.CallbackUri;
  $('data-dir').textContent = s.DataDir;
  $('database').textContent = s.Vault.Database;
  $('key-source').textContent = s.KeySource;
  const v = s.Vault;
  $('vault-health').replaceChildren(v.Available
    ? badge('OK: the data key opens this data directory\'s secrets', 'Verified')
    : v.VaultId ? badge(`Secrets cannot be opened: ${v.Problem}`, 'Error')
      : el('span', 'No secret stored yet: the data key is created with the first one.', 'muted'));
  // A new client's secret is shown once, until Settings is opened again.
  $('api-client-secret').hidden = true;
  $('new-client-secret').textContent = '';
  await loadApiClients();
  renderOrigins(s.TargetOrigins);
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

// ---- start --------------------------------------------------------------------------

if (!tauri) {
  document.body.textContent = 'This page runs inside the Authdesk app.';
} else {
  reload().catch((e) => toast(errorText(e), { error: true, hint: e && e.hint }));
  // The shell says when anything in the data directory changed (this window, the
  // keep-alive, the local API, the CLI): only then is the data read again.
  const changed = debounce(() => reload().catch(() => {}), 150);
  tauri.event.listen('data-changed', changed);
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
