// The UI talks to the shell only through Tauri commands; nothing here sees a secret.
const invoke = window.__TAURI__?.core?.invoke;

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

function fill(tableId, rows) {
  const body = document.querySelector(`#${tableId} tbody`);
  body.replaceChildren();
  if (rows.length === 0) {
    const tr = document.createElement('tr');
    const td = cell('(none)');
    td.colSpan = 8;
    tr.append(td);
    body.append(tr);
  }
  for (const cells of rows) {
    const tr = document.createElement('tr');
    tr.append(...cells);
    body.append(tr);
  }
}

async function load() {
  const status = document.getElementById('status');
  if (!invoke) {
    status.textContent = 'Not running inside Authdesk.';
    return;
  }
  try {
    const o = await invoke('overview');
    fill('accounts', o.Accounts.map((a) => [cell(a.Name), cell(a.Id), cell(a.Timezone)]));
    fill('account-connectors', o.AccountConnectors.map((ac) => [
      cell(ac.Id), cell(ac.Name), cell(ac.Connector.Name),
      cell(ac.Status, `status-${ac.Status}`), cell(ac.ExpiresAt ?? '-'),
    ]));
    fill('connectors', o.Connectors.map((c) => [
      cell(c.Id), cell(`${c.Name} ${c.Version}`),
      cell(c.OAuth2Type ? `${c.AuthType} (${c.OAuth2Type})` : c.AuthType), cell(c.Source),
    ]));
    document.getElementById('data-dir').textContent = `Data directory: ${o.DataDir}`;
    status.textContent = `${o.Accounts.length} account(s), ${o.Connectors.length} connector(s) in the library.`;
    document.body.dataset.ready = 'true';
  } catch (e) {
    status.textContent = e?.message ?? String(e);
    status.className = 'error';
  }
}

load();
