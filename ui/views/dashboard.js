// The Dashboard view: what needs attention and what expires next across every account, and
// the search over all account connectors (by name, status and connector).
// Must not: change anything; a row opens its account connector in the Accounts view.

import {
  call, $, PAGE, MAX_ROWS, state, go, el, act, fill, debounce, latest, countText, acRow,
} from '../shared.js';

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
    go.show('accounts');
    await go.selectAccount(c.AccountId, c.Id);
  });
}

export async function find(more = false) {
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

/** The dashboard's connector filter (filled when the dashboard is shown). */
export function renderFindConnectors() {
  if (!state.overview) return;
  const cs = state.overview.Connectors;
  const byConnector = $('find-connector');
  if (byConnector.dataset.library === state.librarySignature) return; // unchanged: keep it
  byConnector.dataset.library = state.librarySignature;
  const chosen = byConnector.value;
  byConnector.replaceChildren(el('option', 'Any connector'), ...cs.map((c) => {
    const o = el('option', c.Name);
    o.value = c.Slug;
    return o;
  }));
  byConnector.options[0].value = '';
  byConnector.value = chosen;
}
