// What every view shares: the one way to call the shell (`call`), the element lookup (`$`),
// the window's state, toasts and errors with their actions, and the small rendering helpers
// (badges, times, table rows, drafts kept across re-renders).
// Must not: name a view or import one. A view reaches another only through `go`, which
// app.js fills at start; so the modules stand in one direction (app -> views -> shared).

export const tauri = window.__TAURI__;
export const call = (cmd, args = {}) => tauri.core.invoke(cmd, args);
export const $ = (id) => document.getElementById(id);

// Lists are pages: PAGE rows at a time, at most MAX_ROWS in one list (then: search).
export const PAGE = 100;
export const MAX_ROWS = 1000;

export const state = {
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
  tabs: {}, // account connector id -> the tab last used for it
  tabFor: null, // the account connector whose opening tab has been chosen
  revealed: {}, // secret field -> value, for the selected account connector only
  expiresAt: null, // for the live countdowns
  expiryReread: null, // the expiry whose passing was last read again (credential.js)
  refreshExpiresAt: null,
  methods: [],
  // Why the open account connector has no methods to show (an MCP server not reached).
  methodsError: null,
  methodsFor: null, // the account connector the methods belong to
  params: {}, // `${ac}:${method}` -> { parameter: typed value }
  resultFor: null, // `${ac}:${method}` the shown result belongs to
  freeResultFor: null, // the account connector the free-form result belongs to
  credentialFormFor: null, // which form is rendered: `${ac}:${auth type}`
  library: null, // selected library connector (slug)
  details: {}, // slug -> connector_detail, cleared when the library changes
  librarySignature: '',
  signInUrl: null,
};

/**
 * How one view opens another without importing it (app.js fills these at start): show a
 * view, read everything again, select an account (and an account connector in it), open an
 * account connector or a library connector, start a sign-in, focus a property's input, and
 * re-render the selected account.
 */
export const go = {
  show: null,
  reload: null,
  selectAccount: null,
  renderAccount: null,
  openAccountConnector: null,
  openLibrary: null,
  signIn: null,
  focusProperty: null,
  restoreKeychainItem: null,
};

// ---- small helpers ------------------------------------------------------------------

export function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}

export function button(text, className, onClick) {
  const b = el('button', text, className);
  b.type = 'button';
  if (onClick) b.addEventListener('click', () => act(b, onClick));
  return b;
}

/** Makes a row or list item usable from the keyboard as well as the mouse. */
export function activate(node, fn) {
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
export function toast(message, { error = false, hint = null, actions = [] } = {}) {
  const t = $('toast');
  $('toast-text').textContent = message;
  $('toast-actions').replaceChildren(...actions, ...hintActions(hint));
  t.className = error ? 'error' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  if (!error) toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}
$('toast-close').addEventListener('click', () => { $('toast').hidden = true; });

export function errorText(e) {
  return named((e && e.message) || String(e));
}

/**
 * A message with the names the user knows first and the internal ids after them, in
 * parentheses: "account connector 17" becomes "“Acme CRM” (account connector 17)" and a
 * library connector's id "`custom-oidc-1`" becomes "“Acme SSO” (`custom-oidc-1`)", for
 * every account connector and library connector the window has loaded.
 */
export function named(text) {
  const acs = new Map();
  for (const ac of [state.acView, ...state.acs, ...state.found]) if (ac) acs.set(ac.Id, ac.Name);
  let out = text.replace(/account connector (\d+)/g, (m, id) => {
    const name = acs.get(Number(id));
    return name ? `“${name}” (account connector ${id})` : m;
  });
  const connectors = (state.overview && state.overview.Connectors) || [];
  for (const c of connectors) {
    if (c.Name === c.Slug) continue;
    out = out.split(`\`${c.Slug}\``).join(`“${c.Name}” (\`${c.Slug}\`)`);
  }
  return out;
}

/** What the user can do about an error, as buttons (the core's hint, per surface). */
function hintActions(hint) {
  if (!hint) return [];
  switch (hint.Kind) {
    case 'SignIn':
      return [button('Sign in again', 'small', async () => {
        await go.openAccountConnector(hint.AccountConnectorId);
        await go.signIn();
      })];
    case 'SetClient':
      return [
        button('Set the library OAuth app', 'small', () => go.openLibrary(hint.Connector, 'client-id')),
        button(`Set ${hint.Missing} on this connection`, 'small', async () => {
          await go.openAccountConnector(hint.AccountConnectorId, 'properties');
          go.focusProperty(hint.Missing);
        }),
      ];
    case 'SetProperty':
      return [button(`Set ${hint.Property}`, 'small', async () => {
        await go.openAccountConnector(hint.AccountConnectorId, 'properties');
        go.focusProperty(hint.Property);
      })];
    case 'Keychain':
      return [button('Open Settings', 'small', () => go.show('settings'))];
    default:
      return [];
  }
}

/**
 * A destructive button asks once: the first click arms it ("Click again to …") for five
 * seconds, the second does it. Returns true on the second click.
 */
export function confirmed(btn, question) {
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

/**
 * The last error of an action stays next to the controls it concerns (the toast goes
 * away): in a box right after the button's form, toolbar or card, until that action next
 * works.
 */
function panelError(btn, text) {
  const near = btn && btn.isConnected && btn.closest('form, .toolbar, .card, .tab-panel');
  if (!near) return;
  let box = near.nextElementSibling;
  if (!box || !box.classList.contains('panel-error')) {
    if (!text) return;
    box = el('p', null, 'error-box panel-error');
    box.setAttribute('role', 'alert');
    near.after(box);
  }
  if (text) box.textContent = text; else box.remove();
}

/** Runs a UI action with its button disabled and errors shown (with what to do). */
export async function act(btn, fn) {
  if (btn) btn.disabled = true;
  try {
    const result = await fn();
    panelError(btn, null);
    return result;
  } catch (e) {
    toast(errorText(e), { error: true, hint: e && e.hint });
    panelError(btn, errorText(e));
    return undefined;
  } finally {
    // A button the action made unavailable (data-unavailable) stays disabled.
    if (btn) btn.disabled = btn.dataset.unavailable === 'true';
  }
}

const STATUS_LABELS = {
  Authenticated: 'Authenticated',
  NotAuthenticated: 'Not authenticated',
  NeedsReauthentication: 'Needs re-authentication',
  Error: 'Error',
  Expired: 'Expired',
};

export function badge(text, cls) {
  return el('span', text, `badge ${cls}`);
}

/**
 * What is known about an account connector's credential, in one badge: secrets that
 * cannot be opened, an API key, AuthFields or Basic credentials set but not yet verified by a call (or
 * refused by one), else the status.
 */
export function statusBadge(ac, secretsUnavailable = false) {
  if (secretsUnavailable && ac.SecretsSet.length) return badge('Secrets unavailable', 'Unavailable');
  const type = ac.Authentication.AuthType;
  if (ac.Status === 'Authenticated' && ac.Authentication.VerifiedByCalls) {
    const what = { ApiKey: 'Key', AuthFields: 'Fields' }[type] || 'Credentials';
    const check = ac.LastCheck;
    if (check && check.Ok) return badge(`${what} set · verified`, 'Verified');
    if (check) return badge(`${what} refused (HTTP ${check.HttpStatus})`, 'Error');
    return badge(`${what} set · not verified`, 'Unavailable');
  }
  return badge(STATUS_LABELS[ac.Status] || ac.Status, ac.Status);
}

export function vaultProblem() {
  const v = state.overview && state.overview.Vault;
  return !!(v && v.VaultId && !v.Available);
}

export function span(seconds) {
  const s = Math.abs(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  const text = d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  return seconds >= 0 ? `in ${text}` : `${text} ago`;
}

export function when(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString();
}

export function fill(tbody, rows, columns = 6) {
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
export function debounce(fn, ms = 200) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

/** The latest of overlapping requests wins: `latest(key)` returns a check to call on answer. */
const generations = {};
export function latest(key) {
  const g = (generations[key] = (generations[key] || 0) + 1);
  return () => generations[key] === g;
}

/**
 * Re-renders `container` keeping what the user typed: inputs marked `data-draft` get their
 * values back, and the focused one its focus and selection.
 */
export function preserving(container, render) {
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

export async function copy(text, what) {
  await navigator.clipboard.writeText(text);
  toast(`${what} copied.`);
}

/**
 * A count with its noun, singular or plural: `counted(1, 'account')` is "1 account",
 * `counted(2, 'account')` "2 accounts" (an irregular plural is given: `counted(n, 'entry',
 * 'entries')`). The one place the window makes a plural.
 */
export function counted(n, singular, plural = `${singular}s`) {
  return `${n.toLocaleString()} ${n === 1 ? singular : plural}`;
}

/** "1 connector needs attention", "2 connectors need attention". */
export function needingAttention(n) {
  return `${counted(n, 'connector')} ${n === 1 ? 'needs' : 'need'} attention`;
}

/** "shown of total" when the list is not all there. */
export function countText(shown, total) {
  if (!total) return '';
  return shown < total ? `${shown.toLocaleString()} of ${total.toLocaleString()}` : total.toLocaleString();
}

export function acRow(c, withAccount, onOpen) {
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

/** A library connector's detail (definition, redirect URI), read once per library change. */
export async function connectorDetail(slug) {
  if (!state.details[slug]) state.details[slug] = await call('connector_detail', { connector: slug });
  return state.details[slug];
}
