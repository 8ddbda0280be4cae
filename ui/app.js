// The Authdesk UI. It talks to the shell only through Tauri commands, builds the DOM with
// textContent (never innerHTML of data), and sees a secret only when the user reveals one.

const tauri = window.__TAURI__;
const call = (cmd, args = {}) => tauri.core.invoke(cmd, args);
const $ = (id) => document.getElementById(id);

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
  found: [], // Find: the rows loaded so far
  foundTotal: 0,
  ac: null, // selected account connector id
  reveal: false,
  expiresAt: null, // for the live countdown
  refreshExpiresAt: null,
};

// ---- small helpers ------------------------------------------------------------------

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

function toast(message, isError = false) {
  const t = $('toast');
  t.textContent = message;
  t.className = isError ? 'error' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, isError ? 9000 : 3500);
}

function errorText(e) {
  return (e && e.message) || String(e);
}

/**
 * A destructive button asks once: the first click arms it ("Click again to …") for five
 * seconds, the second does it. Returns true on the second click.
 */
function confirmed(button, question) {
  if (button.dataset.armed === 'true') {
    clearTimeout(button.armTimer);
    button.dataset.armed = 'false';
    button.textContent = button.dataset.label;
    return true;
  }
  button.dataset.label = button.textContent;
  button.dataset.armed = 'true';
  button.textContent = question;
  button.armTimer = setTimeout(() => {
    button.dataset.armed = 'false';
    button.textContent = button.dataset.label;
  }, 5000);
  return false;
}

/** Runs a UI action with its button disabled and errors shown. */
async function act(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(errorText(e), true);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

function badge(status) {
  const labels = {
    Authenticated: 'Authenticated',
    NotAuthenticated: 'Not authenticated',
    NeedsReauthentication: 'Needs re-authentication',
    Error: 'Error',
  };
  return el('span', labels[status] || status, `badge ${status}`);
}

function span(seconds) {
  const s = Math.abs(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  return seconds >= 0 ? `in ${text}` : `expired ${text} ago`;
}

function when(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString();
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
  if (rows.length === 0) {
    const tr = el('tr');
    const td = el('td', '(none)', 'muted');
    td.colSpan = 6;
    tr.append(td);
    tbody.append(tr);
  }
}

// ---- navigation ---------------------------------------------------------------------

for (const b of document.querySelectorAll('nav button')) {
  b.addEventListener('click', () => show(b.dataset.view));
}

function show(view) {
  for (const b of document.querySelectorAll('nav button')) b.classList.toggle('active', b.dataset.view === view);
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== `view-${view}`;
  if (view === 'settings') loadSettings();
  if (view === 'library') renderLibrary();
  if (view === 'find') find().catch((e) => toast(errorText(e), true));
}

// ---- data ---------------------------------------------------------------------------
// Nothing here loads every row: the shell answers pages (PAGE rows at a time, at most
// MAX_ROWS in one list) and counts from aggregate queries, so the window is as quick with
// 100,000 account connectors as with ten.

const PAGE = 100;
const MAX_ROWS = 1000;

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
  renderAccountList();
  renderLibrary();
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
  document.body.dataset.ready = 'true';
}

function renderAttention() {
  const c = state.overview.Counts;
  const bad = c.NeedsReauthentication + c.Error;
  const a = $('attention');
  a.hidden = bad === 0;
  a.textContent = bad === 1 ? '1 connector needs attention' : `${bad.toLocaleString()} connectors need attention`;
  $('totals').textContent = `${c.Accounts.toLocaleString()} accounts · ${c.AccountConnectors.toLocaleString()} connectors`;
  for (const ac of state.overview.NeedingReauthentication) notifyOnce(ac);
}

$('attention').addEventListener('click', () => {
  $('find-status').value = state.overview.Counts.NeedsReauthentication ? 'NeedsReauthentication' : 'Error';
  $('find-search').value = '';
  $('find-connector').value = '';
  show('find');
});

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
    if (a.NeedingReauthentication) {
      const b = el('span', String(a.NeedingReauthentication), 'badge NeedsReauthentication');
      b.title = `${a.NeedingReauthentication} need re-authentication`;
      li.append(b);
    }
    li.classList.toggle('selected', a.Id === state.accountId);
    li.addEventListener('click', () => selectAccount(a.Id).catch((e) => toast(errorText(e), true)));
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

async function selectAccount(id, ac = null) {
  state.accountId = id;
  state.ac = ac;
  state.acs = [];
  state.acFilter = '';
  $('ac-filter').value = '';
  renderAccountList();
  await loadAccount();
  if (ac) await loadAccountConnector();
}

/** The selected account and its account connectors: the pages shown so far, re-read. */
async function loadAccount() {
  const id = state.accountId;
  const current = latest('account');
  const [account, page] = await Promise.all([
    state.accounts.find((a) => a.Id === id) || call('account', { id }),
    call('account_connectors_page', {
      accountId: id, status: null, connector: null, search: state.acFilter || null,
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
    accountId: id, status: null, connector: null, search: state.acFilter || null, offset: state.acs.length, limit: PAGE,
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

function acRow(c, withAccount) {
  const tr = el('tr');
  tr.className = 'clickable' + (c.Id === state.ac ? ' selected' : '');
  tr.dataset.id = c.Id;
  const status = el('td');
  status.append(badge(c.Status));
  tr.append(el('td', c.Id));
  if (withAccount) tr.append(el('td', c.AccountName));
  tr.append(el('td', c.Name), el('td', `${c.Connector.Name} ${c.Connector.Version}`), status, el('td', when(c.ExpiresAt)));
  return tr;
}

function renderAccount() {
  const account = state.accountId ? state.accountRow : null;
  $('account-empty').hidden = !!account;
  $('account-panel').hidden = !account;
  $('ac-panel').hidden = !state.ac;
  if (!account) return;
  $('account-title').textContent = account.Name;
  $('account-meta').textContent = `${account.Id} · ${account.Timezone}`;
  fill($('ac-table').tBodies[0], state.acs.map((c) => {
    const tr = acRow(c, false);
    tr.addEventListener('click', () => { state.ac = c.Id; state.reveal = false; renderAccount(); loadAccountConnector(); });
    return tr;
  }));
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
    state.accountId = a.Id;
    state.ac = null;
    state.acs = [];
    await reload();
    toast(`Account ${a.Name} created.`);
  });
});

$('delete-account').addEventListener('click', () => act($('delete-account'), async () => {
  const a = state.accountRow;
  if (!a || !confirmed($('delete-account'), 'Click again to delete the account and all its connectors')) return;
  await call('delete_account', { id: a.Id });
  state.accountId = null;
  state.ac = null;
  await reload();
}));

$('install').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('install-button'), async () => {
    const ac = await call('install', { accountId: state.accountId, connector: $('install-connector').value, name: $('install-name').value });
    $('install-name').value = '';
    state.ac = ac.Id;
    await reload();
    toast(`${ac.Name} installed.`);
  });
});

// ---- finding account connectors across accounts --------------------------------------

function findFilter() {
  return {
    accountId: null,
    search: $('find-search').value.trim() || null,
    status: $('find-status').value || null,
    connector: $('find-connector').value || null,
  };
}

async function find(more = false) {
  const current = latest('find');
  const page = await call('account_connectors_page', { ...findFilter(), offset: more ? state.found.length : 0, limit: PAGE });
  if (!current()) return;
  state.found = more ? state.found.concat(page.Items) : page.Items;
  state.foundTotal = page.Total;
  fill($('find-table').tBodies[0], state.found.map((c) => {
    const tr = acRow(c, true);
    tr.addEventListener('click', () => act(null, async () => {
      show('accounts');
      await selectAccount(c.AccountId, c.Id);
    }));
    return tr;
  }));
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

async function loadAccountConnector() {
  const id = state.ac;
  if (!id) return;
  let ac;
  try {
    ac = await call('account_connector', { id });
  } catch {
    if (state.ac === id) { state.ac = null; renderAccount(); } // deleted meanwhile
    return;
  }
  if (state.ac !== id) return;
  $('ac-panel').hidden = false;
  $('ac-title').textContent = `${ac.Name} — ${ac.Connector.Name}`;
  $('sign-in-mode').value = ac.SignInMode || 'default';
  // The way to authenticate this account connector uses (a connector may offer several).
  const oauth = ac.Authentication.AuthType === 'OAuth2';
  for (const b of ['connect', 'refresh-now', 'sign-in-mode']) $(b).disabled = !oauth;
  $('connect').textContent = ac.Authenticated ? 'Reconnect' : 'Connect';
  const [inspection, history, methods] = await Promise.all([
    call('inspect', { id, reveal: state.reveal }),
    call('history', { id }),
    call('methods', { id }),
  ]);
  if (state.ac !== id) return;
  renderInspection(ac, inspection);
  renderProperties(ac);
  renderHistory(history);
  renderMethods(methods);
}

function renderInspection(ac, i) {
  const dl = $('inspector');
  const rows = [
    ['Status', badge(i.Status)],
    ['Last error', i.LastError || '—'],
    ['Auth type', (i.OAuth2Type ? `${i.AuthType} (${i.OAuth2Type})` : i.AuthType)
      + (ac.Authentication.IsDefault ? '' : ` — ${ac.Authentication.AuthName}`)],
    ['Scopes', i.Scopes.length ? i.Scopes.join(' ') : '—'],
    ['Token type', i.TokenType || '—'],
    ['Expires', el('span', '', 'countdown')],
    ['Refresh expires', el('span', '', 'refresh-countdown')],
    ['Refresh margin', i.RefreshMarginSeconds == null ? '—'
      : `${i.RefreshMarginSeconds} s before expiry${i.RefreshDueAt ? ` (next refresh due ${when(i.RefreshDueAt)})` : ''}`],
    ['Authenticated at', when(i.AuthenticatedAt)],
  ];
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dd = el('dd');
    if (v instanceof Node) dd.append(v); else dd.textContent = v;
    dd.id = `inspect-${k.toLowerCase().replace(/\s+/g, '-')}`;
    return [el('dt', k), dd];
  }));
  state.expiresAt = i.ExpiresAt;
  state.refreshExpiresAt = i.RefreshExpiresAt;
  tick();
  const box = $('secrets');
  const parts = [];
  if (i.SecretsUnavailable) parts.push(el('p', `Secrets cannot be opened: ${i.SecretsUnavailable}`, 'progress'));
  for (const s of i.Secrets) {
    const div = el('div', null, 'secret');
    div.dataset.field = s.Field;
    const head = el('div');
    head.append(el('strong', `${s.Field} `), el('code', s.Value ?? s.Masked));
    if (s.Value) {
      const copy = el('button', 'Copy', 'small');
      copy.addEventListener('click', () => navigator.clipboard.writeText(s.Value).then(() => toast(`${s.Field} copied.`)));
      head.append(' ', copy);
    }
    div.append(head);
    if (s.Jwt) {
      div.append(el('div', 'JWT claims (decoded, not verified):', 'muted'));
      div.append(el('pre', JSON.stringify(s.Jwt.Claims ?? s.Jwt.claims, null, 2), 'claims'));
    }
    parts.push(div);
  }
  if (i.Secrets.length === 0 && !i.SecretsUnavailable) parts.push(el('p', 'No credentials stored.', 'muted'));
  box.replaceChildren(...parts);
  $('reveal').textContent = state.reveal ? 'Mask values' : 'Reveal values';
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

function renderProperties(ac) {
  fill($('properties').tBodies[0], ac.Properties.map((p) => {
    const tr = el('tr');
    const remove = el('button', 'Remove', 'small danger');
    remove.addEventListener('click', () => act(remove, async () => {
      await call('remove_property', { id: ac.Id, name: p.Name });
      await reload();
    }));
    const actions = el('td');
    actions.append(remove);
    tr.append(el('td', p.Name), el('td', p.IsSecret ? '•••• (secret, set)' : p.Value), actions);
    return tr;
  }));
  if (ac.MissingProperties.length) {
    const tr = el('tr');
    const td = el('td', `Required and missing: ${ac.MissingProperties.join(', ')}`, 'progress');
    td.colSpan = 3;
    tr.append(td);
    $('properties').tBodies[0].append(tr);
  }
}

function renderHistory(events) {
  fill($('history').tBodies[0], events.map((e) => {
    const tr = el('tr');
    tr.append(el('td', when(e.At)), el('td', e.Kind), el('td', e.Detail || ''));
    return tr;
  }));
}

let methodsCache = [];
function renderMethods(methods) {
  methodsCache = methods;
  const select = $('tester-method');
  const current = select.value;
  select.replaceChildren(...methods.map((m) => {
    const o = el('option', `${m.Name} — ${m.HttpMethod} ${m.Path}`);
    o.value = m.Id;
    return o;
  }));
  if (methods.some((m) => m.Id === current)) select.value = current;
  $('run-method').disabled = methods.length === 0;
  renderParams();
}

function renderParams() {
  const m = methodsCache.find((x) => x.Id === $('tester-method').value);
  const box = $('tester-params');
  box.replaceChildren(...(m ? m.Parameters : []).flatMap((p) => {
    const input = el('input');
    input.name = p.Name;
    input.placeholder = `${p.Location}${p.Required ? ', required' : ''}${p.Description ? ` — ${p.Description}` : ''}`;
    input.required = p.Required;
    return [el('label', p.Name), input];
  }));
}
$('tester-method').addEventListener('change', renderParams);

$('tester').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('run-method'), async () => {
    const parameters = {};
    for (const input of $('tester-params').querySelectorAll('input')) {
      if (input.value !== '') parameters[input.name] = input.value;
    }
    const out = $('tester-result');
    out.hidden = false;
    out.textContent = 'Running…';
    try {
      const r = await call('call_method', { id: state.ac, method: $('tester-method').value, parameters });
      const headers = Object.entries(r.Headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      const body = typeof r.Body === 'string' ? r.Body : JSON.stringify(r.Body, null, 2);
      out.textContent = `HTTP ${r.Status}\n${headers}\n\n${body}`;
    } catch (err) {
      out.textContent = errorText(err);
      throw err;
    } finally {
      await reload();
    }
  });
});

function progress(text, cancellable = false) {
  $('progress').hidden = !text;
  $('progress-text').textContent = text || '';
  $('cancel-sign-in').hidden = !cancellable;
}

$('cancel-sign-in').addEventListener('click', () => act($('cancel-sign-in'), () => call('cancel_sign_in', { id: state.ac })));

$('connect').addEventListener('click', () => act($('connect'), async () => {
  const started = await call('connect', { id: state.ac });
  progress(started.Mode === 'webview'
    ? 'Signing in in the Authdesk sign-in window…'
    : 'Signing in in your browser… come back here when you are done.', true);
}));

tauri.event.listen('sign-in-finished', async (event) => {
  const r = event.payload;
  progress(null);
  await reload();
  if (r.Ok) toast('Signed in.');
  else toast(r.Message, !r.Cancelled);
});

$('refresh-now').addEventListener('click', () => act($('refresh-now'), async () => {
  progress('Refreshing…');
  try {
    await call('refresh_now', { id: state.ac });
    toast('Refreshed.');
  } finally {
    progress(null);
    await reload();
  }
}));

$('disconnect').addEventListener('click', () => act($('disconnect'), async () => {
  if (!confirmed($('disconnect'), 'Click again to revoke and forget the tokens')) return;
  const report = await call('disconnect', { id: state.ac });
  await reload();
  toast(report.Errors.length ? `Disconnected here; revocation failed: ${report.Errors.join('; ')}` : 'Disconnected.', report.Errors.length > 0);
}));

$('delete-ac').addEventListener('click', () => act($('delete-ac'), async () => {
  if (!confirmed($('delete-ac'), 'Click again to revoke and delete')) return;
  const report = await call('delete_account_connector', { id: state.ac });
  state.ac = null;
  await reload();
  toast(report.Errors.length ? `Deleted; revocation failed: ${report.Errors.join('; ')}` : 'Deleted.', report.Errors.length > 0);
}));

$('sign-in-mode').addEventListener('change', () => act(null, async () => {
  await call('set_sign_in_mode', { id: state.ac, mode: $('sign-in-mode').value });
  await reload();
}));

$('reveal').addEventListener('click', () => { state.reveal = !state.reveal; loadAccountConnector(); });

$('property-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    await call('set_property', { id: state.ac, name: $('property-name').value, value: $('property-value').value });
    $('property-name').value = '';
    $('property-value').value = '';
    await reload();
  });
});

$('authvalue-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    await call('set_auth_value', { id: state.ac, value: $('authvalue').value });
    $('authvalue').value = '';
    await reload();
    toast('AuthValue imported.');
  });
});

// ---- library ------------------------------------------------------------------------

function renderLibrary() {
  if (!state.overview) return;
  const cs = state.overview.Connectors;
  fill($('library').tBodies[0], cs.map((c) => {
    const tr = el('tr');
    const oauth = c.Authentication.some((a) => a.AuthType === 'OAuth2');
    const app = c.ClientId ? `${c.ClientId}${c.ClientSecretSet ? ' + secret' : ' (public)'}` : oauth ? 'not set' : '—';
    const ways = c.Authentication.map((a) => (a.AuthType === 'OAuth2' ? `${a.AuthType} (${a.OAuth2Type})` : a.AuthType)).join(' or ');
    tr.append(el('td', c.Id), el('td', `${c.Name} ${c.Version}`), el('td', ways), el('td', c.Source), el('td', app));
    return tr;
  }));
  const byConnector = $('find-connector');
  const chosen = byConnector.value;
  byConnector.replaceChildren(el('option', 'Any connector'), ...cs.map((c) => {
    const o = el('option', c.Name);
    o.value = c.Slug;
    return o;
  }));
  byConnector.options[0].value = '';
  byConnector.value = chosen;
  const select = $('client-connector');
  const current = select.value;
  select.replaceChildren(...cs.filter((c) => c.Authentication.some((a) => a.AuthType === 'OAuth2')).map((c) => {
    const o = el('option', c.Name);
    o.value = c.Slug;
    return o;
  }));
  if (current) select.value = current;
}

$('add-connector').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const file = $('connector-file').files[0];
    if (!file) throw new Error('Choose a connector definition file (.toml) first.');
    const c = await call('add_connector', { fileName: file.name, text: await file.text(), replace: $('connector-replace').checked });
    await reload();
    toast(`${c.Name} added to the library.`);
  });
});

$('discover').addEventListener('submit', (e) => {
  e.preventDefault();
  act(e.submitter, async () => {
    toast('Reading the provider\'s metadata…');
    const c = await call('discover_connector', { issuer: $('discover-issuer').value, id: $('discover-id').value || null, name: null });
    await reload();
    toast(`${c.Name} added to the library.`);
  });
});

$('client').addEventListener('submit', (e) => {
  e.preventDefault();
  act(e.submitter, async () => {
    await call('set_connector_client', { connector: $('client-connector').value, clientId: $('client-id').value, clientSecret: $('client-secret').value || null });
    $('client-secret').value = '';
    await reload();
    toast('OAuth app saved.');
  });
});

// ---- settings -----------------------------------------------------------------------

async function loadSettings() {
  const s = await call('settings');
  $('api-address').textContent = s.ApiAddress || `not running: ${s.ApiProblem}`;
  $('callback-uri').textContent = s.CallbackUri;
  $('data-dir').textContent = s.DataDir;
  $('key-source').textContent = s.KeySource;
  // A new client's secret is shown once, until Settings is opened again.
  $('api-client-secret').hidden = true;
  $('new-client-secret').textContent = '';
  loadApiClients();
  $('origins').replaceChildren(...s.TargetOrigins.map((o) => {
    const li = el('li');
    const remove = el('button', 'Remove', 'small danger');
    remove.addEventListener('click', () => act(remove, async () => { await call('remove_target_origin', { origin: o }); loadSettings(); }));
    li.append(el('span', o), remove);
    return li;
  }));
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
        loadApiClients();
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
    loadApiClients();
  });
});
$('copy-client-secret').addEventListener('click', () => act($('copy-client-secret'), async () => {
  await navigator.clipboard.writeText($('new-client-secret').textContent);
  toast('ClientSecret copied.');
}));

$('reveal-key').addEventListener('click', () => act($('reveal-key'), async () => {
  $('api-key').textContent = await call('reveal_api_key');
}));
$('copy-key').addEventListener('click', () => act($('copy-key'), async () => {
  await navigator.clipboard.writeText(await call('reveal_api_key'));
  toast('API key copied.');
}));
$('rotate-key').addEventListener('click', () => act($('rotate-key'), async () => {
  if (!confirmed($('rotate-key'), 'Click again: programs using the old key stop working')) return;
  $('api-key').textContent = await call('rotate_api_key');
  toast('API key replaced.');
}));
$('origin-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    await call('add_target_origin', { origin: $('origin').value });
    $('origin').value = '';
    loadSettings();
  });
});

// ---- start --------------------------------------------------------------------------

if (!tauri) {
  document.body.textContent = 'This page runs inside the Authdesk app.';
} else {
  reload().catch((e) => toast(errorText(e), true));
  setInterval(() => { reload().catch(() => {}); }, 15000);
}
