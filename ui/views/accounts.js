// The Accounts view: the paged, searchable account list, the selected account (its
// details form, its account connectors' table, installing a connector), and creating and
// deleting accounts.
// Must not: render an account connector's panel (views/account-connector.js does) or read
// what another view shows.

import {
  call, needingAttention, $, PAGE, MAX_ROWS, state, go, el, activate, toast, confirmed, act, fill, debounce, latest, countText, acRow,
} from '../shared.js';
import { selectAccountConnector, loadAccountConnector } from './account-connector.js';

export function renderAccountList() {
  const list = $('account-list');
  const items = state.accounts.map((a) => {
    const li = el('li');
    li.dataset.id = a.Id;
    li.append(el('span', a.Name));
    if (a.NeedingAttention) {
      const b = el('span', String(a.NeedingAttention), 'badge NeedsReauthentication');
      b.title = `${needingAttention(a.NeedingAttention)} (re-authentication or an error)`;
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

export async function selectAccount(id, ac = null, tab = null) {
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
export async function loadAccount() {
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

export function renderAccount() {
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
  // The connector picker is rebuilt only when the library changed: an update must not
  // replace the options under a user (or a driver) choosing one.
  const select = $('install-connector');
  if (select.dataset.library !== state.librarySignature) {
    select.dataset.library = state.librarySignature;
    const current = select.value;
    select.replaceChildren(...state.overview.Connectors.map((c) => {
      const o = el('option', `${c.Name} (${c.Slug})`);
      o.value = c.Slug;
      return o;
    }));
    if (current) select.value = current;
  }
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
    await go.reload();
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
  await go.reload();
}));

$('install').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('install-button'), async () => {
    const ac = await call('install', { accountId: state.accountId, connector: $('install-connector').value, name: $('install-name').value });
    $('install-name').value = '';
    selectAccountConnector(ac.Id);
    await go.reload();
    toast(`${ac.Name} installed.`);
  });
});
