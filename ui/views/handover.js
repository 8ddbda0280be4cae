// Hand-over bundles: in the Accounts view, the accounts chosen for a hand-over ("Add to
// hand-over" on an open account), the receiver's recipient and where the encrypted file
// goes; in Settings, this desk's recipient and importing a bundle, with what it did.
// Must not: show a bundle's content or the identity (only the recipient and reports).

import {
  call, $, state, el, button, toast, act, copy, counted,
} from '../shared.js';

const chosen = new Map(); // account Id -> name, in the order chosen

function renderChosen() {
  $('export-form').hidden = chosen.size === 0;
  $('handover-accounts').replaceChildren(...[...chosen].map(([id, name]) => {
    const li = el('li');
    li.append(el('span', name), button('Remove', 'small', () => {
      chosen.delete(id);
      renderChosen();
    }));
    return li;
  }));
}

$('add-to-handover').addEventListener('click', () => act($('add-to-handover'), async () => {
  const a = state.accountRow;
  if (!a) return;
  chosen.set(a.Id, a.Name);
  if (!$('handover-path').value) $('handover-path').value = await call('default_bundle_path');
  $('export-result').hidden = true;
  renderChosen();
  toast(`${a.Name} will be in the hand-over (${counted(chosen.size, 'account')}).`);
}));

$('export-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('export-bundle'), async () => {
    const r = await call('export_bundle', {
      recipient: $('handover-to').value.trim(),
      accounts: [...chosen.keys()],
      path: $('handover-path').value.trim(),
    });
    const parts = [counted(r.Accounts, 'account'), counted(r.AccountConnectors, 'account connector'),
      counted(r.Connectors, 'user connector'), counted(r.OAuthApps, 'OAuth app')];
    $('export-result').textContent = [`Wrote ${$('handover-path').value.trim()}: ${parts.join(', ')}, encrypted to ${r.Recipient}.`, ...r.Notes].join('\n');
    $('export-result').hidden = false;
    toast('Bundle written.');
  });
});

/** Settings: this desk's recipient (made on first use). */
export async function loadHandoverSettings() {
  try {
    $('handover-recipient').textContent = await call('handover_recipient');
  } catch (e) {
    $('handover-recipient').textContent = `unavailable: ${e.message || e}`;
  }
}

$('copy-recipient').addEventListener('click', () => act($('copy-recipient'), () => copy($('handover-recipient').textContent, 'The recipient')));

$('import-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('import-bundle'), async () => {
    const r = await call('import_bundle', { path: $('import-path').value.trim() });
    const rows = [['Account', r.Accounts], ['Connector', r.Connectors], ['OAuth app', r.OAuthApps], ['Account connector', r.AccountConnectors]]
      .flatMap(([what, list]) => list.map((i) => el('li', `${what} ${i.Name}: ${i.Outcome}`)));
    $('import-report').replaceChildren(...rows);
    const added = [r.Accounts, r.Connectors, r.OAuthApps, r.AccountConnectors].flat().filter((i) => i.Outcome === 'added').length;
    toast(added ? `Imported: ${counted(added, 'item')} added.` : 'Nothing new: everything in the bundle is already here.');
  });
});
