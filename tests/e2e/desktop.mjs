// End-to-end test of the desktop app: the real Tauri binary in WebKitGTK under Xvfb, driven
// through tauri-driver + WebKitWebDriver (webdriverio), against the test authorization
// server (tests/oidc) and the real keychain of the surrounding D-Bus session.
//
//   xvfb-run -a dbus-run-session -- bash -c \
//     'echo -n pw | gnome-keyring-daemon --unlock --components=secrets; node tests/e2e/desktop.mjs'
//
// Environment: AUTHDESK_APP (default <repo>/target/debug/authdesk-app), AUTHDESK_BIN
// (default <repo>/target/debug/authdesk), TAURI_DRIVER (default tauri-driver on PATH).
// Prints `ok - <check>` lines and one closing `N passed, M failed`; exits 1 on failure.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { remote } from 'webdriverio';
import { approveDevice } from './device-user.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP = process.env.AUTHDESK_APP || path.join(ROOT, 'target', 'debug', 'authdesk-app');
const BIN = process.env.AUTHDESK_BIN || path.join(ROOT, 'target', 'debug', 'authdesk');
const DRIVER = process.env.TAURI_DRIVER || 'tauri-driver';
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const TIMEOUT = 360_000;

let passed = 0;
let failed = 0;
const children = [];
const logs = [];

async function check(name, fn) {
  try {
    const r = await fn();
    passed += 1;
    console.log(`ok - ${name}`);
    return r;
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}: ${String(e?.message ?? e).split('\n').join('\n#   ')}`);
    throw e;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a child and resolves when `re` matches its stdout or stderr. */
function start(name, command, args, env, re) {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${seen.slice(-500)}`)), 30_000);
    const onData = (chunk) => {
      const text = chunk.toString();
      logs.push(`${name}: ${text.trim()}`.slice(0, 400));
      seen += text;
      const m = seen.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${seen.slice(-500)}`)); });
  });
}

async function main(browser, env, issuer, cli, oauth1, hooks, mcp) {
  const main = await browser.getWindowHandle();
  const byId = (id) => browser.$(`#${id}`);
  const text = async (id) => (await byId(id)).getText();
  const waitText = async (id, predicate, what, timeout = 20_000) => {
    await browser.waitUntil(async () => predicate(await text(id).catch(() => '')), {
      timeout, timeoutMsg: `${what}; #${id} shows: ${await text(id).catch(() => '?')}`,
    });
  };
  const toastSays = async (needle) => browser.waitUntil(async () => (await text('toast').catch(() => '')).includes(needle), {
    timeout: 20_000, timeoutMsg: `no "${needle}" message; toast: ${await text('toast').catch(() => '?')}`,
  });
  // Clicks and typing go through the page: a sign-in window may overlap the main one (no
  // window manager under Xvfb), which WebKitWebDriver reports as "not interactable".
  const click = (selector) => browser.execute((sel) => document.querySelector(sel).click(), selector);
  const setField = async (id, value) => {
    const missing = await browser.execute((i, v) => {
      const e = document.getElementById(i);
      if (!e) {
        return `no #${i} in the window; ac-title: ${document.getElementById('ac-title').textContent}; `
          + `credential form: ${document.getElementById('credential-form').textContent.slice(0, 200)}; `
          + `toast: ${document.getElementById('toast').hidden ? '(hidden)' : document.getElementById('toast').textContent}; `
          + `errors: ${JSON.stringify(window.__authdeskErrors || [])}`;
      }
      e.value = v;
      e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input'));
      return null;
    }, id, value);
    if (missing) throw new Error(missing);
  };
  // A form whose last action is still finishing (its button disabled until then) is waited
  // for: the toast of that action shows before its button is enabled again.
  const submit = async (formId) => {
    await browser.waitUntil(() => browser.execute((f) => [...document.getElementById(f).querySelectorAll('button')]
      .every((b) => !b.disabled || b.dataset.unavailable === 'true'), formId), {
      timeout: 10_000, timeoutMsg: `#${formId} stayed busy`,
    });
    await browser.execute((f) => document.getElementById(f).requestSubmit(), formId);
  };
  const tab = (name) => click(`#tab-${name}`);
  // A two-click action: the first click asks (the button shows the question), the second does it.
  const clickTwice = async (id, question) => {
    await click(`#${id}`);
    await waitText(id, (t) => t.includes(question), `#${id} did not ask "${question}" first`);
    await click(`#${id}`);
  };
  const shot = (name) => browser.saveScreenshot(path.join(ARTIFACTS, `desktop-${name}.png`));
  fs.mkdirSync(ARTIFACTS, { recursive: true });

  await check('the main window shows the UI', async () => {
    await browser.waitUntil(async () => (await browser.execute(() => document.body.dataset.ready)) === 'true', {
      timeout: 20_000, timeoutMsg: 'the UI never finished loading',
    });
    // Uncaught errors from here on are kept, for the message of a check that fails.
    await browser.execute(() => {
      window.__authdeskErrors = [];
      window.addEventListener('error', (e) => window.__authdeskErrors.push(String(e.message)));
      window.addEventListener('unhandledrejection', (e) => window.__authdeskErrors.push(String((e.reason && e.reason.message) || e.reason)));
    });
  });

  await check('only the Accounts view is shown at start (a hidden view costs the window nothing)', async () => {
    const shown = await browser.execute(() => [...document.querySelectorAll('.view')]
      .filter((v) => v.getClientRects().length > 0).map((v) => v.id));
    assert(JSON.stringify(shown) === '["view-accounts"]', `views shown at start: ${JSON.stringify(shown)}`);
  });

  const openLibraryEntry = async (slug) => {
    await click('#nav-library');
    await browser.waitUntil(async () => browser.execute((s) => !!document.querySelector(`#library tr[data-slug="${s}"]`), slug),
      { timeout: 10_000, timeoutMsg: `no library row ${slug}` });
    await click(`#library tr[data-slug="${slug}"]`);
    await waitText('lib-title', (t) => t.includes(`(${slug},`), `${slug} did not open`);
  };

  await check('the library OAuth app form shows the stored app; saving it twice with a blank secret keeps the secret', async () => {
    await openLibraryEntry('test-provider');
    const shown = await browser.execute(() => [document.getElementById('client-id').value, document.getElementById('client-secret').value,
      document.getElementById('client-public').checked, document.getElementById('client-secret-note').textContent]);
    assert(shown[0] === 'authdesk-native' && shown[1] === '' && shown[2] === false && shown[3].includes('stored'), JSON.stringify(shown));
    assert((await text('lib-redirect')).endsWith('/connector/callback'), 'no redirect URI to register');
    await shot('library-detail');
    for (let i = 0; i < 2; i++) {
      await submit('client');
      await toastSays('ClientSecret stored');
      await browser.execute(() => { document.getElementById('toast').hidden = true; });
    }
    const c = JSON.parse(cli(['--json', 'connectors', 'show', 'test-provider']));
    assert(c.ClientId === 'authdesk-native' && c.ClientSecretSet === true, JSON.stringify({ id: c.ClientId, set: c.ClientSecretSet }));
  });

  const createAccount = async (accountName) => {
    await click('#nav-accounts');
    await (await byId('new-account-name')).setValue(accountName);
    await click('#create-account');
    await toastSays(`Account ${accountName} created.`);
  };
  const install = async (slug, name) => {
    await (await byId('install-connector')).selectByAttribute('value', slug);
    await setField('install-name', name);
    await click('#install-button');
    await toastSays(`${name} installed.`);
    await waitText('ac-title', (t) => t.startsWith(name), `${name} did not open`);
    // Its credential form (the checks type into it) is rendered with the panel.
    await browser.waitUntil(async () => browser.execute(() => !!document.getElementById('cred-form')), {
      timeout: 20_000,
      timeoutMsg: `no credential form for ${name}; errors: ${JSON.stringify(await browser.execute(() => window.__authdeskErrors || []))}`,
    });
  };
  const createAndInstall = async (accountName) => {
    await createAccount(accountName);
    await install('test-provider', `${accountName} provider`);
  };

  /** Clicks Connect and returns the handle of the sign-in window. */
  const openSignIn = async () => {
    await click('#connect');
    let handles = [];
    try {
      await browser.waitUntil(async () => (handles = await browser.getWindowHandles()).length > 1, { timeout: 20_000 });
    } catch {
      throw new Error(`no sign-in window appeared; the app says: ${await text('toast').catch(() => '?')} ${await text('progress-text').catch(() => '')}`);
    }
    return handles.find((h) => h !== main);
  };

  const loginForm = async () => browser.waitUntil(async () => (await browser.$$('input[name=login]')).length > 0, {
    timeout: 20_000, timeoutMsg: `no login form in the sign-in window (at ${await browser.getUrl().catch(() => '?')})`,
  });

  await check('create an account and install the test provider through the UI', () => createAndInstall('Customer A'));

  await check('the header counts in words with the right plural ("1 account · 1 connector")', async () => {
    await waitText('totals', (t) => t === '1 account · 1 connector', 'the header count');
  });

  await check('an account is edited; a time zone that is not an IANA name is refused and nothing is lost', async () => {
    await click('#edit-account');
    await setField('account-description', 'Key customer');
    await setField('account-timezone', 'Mars/Olympus');
    await submit('account-form');
    await toastSays('IANA');
    // The message can be dismissed; the error stays next to the form it concerns.
    await click('#toast-close');
    assert(await browser.execute(() => document.getElementById('toast').hidden), 'the message was not dismissed');
    const kept = await browser.execute(() => { const n = document.getElementById('account-form').nextElementSibling; return n && n.classList.contains('panel-error') ? n.textContent : ''; });
    assert(kept.includes('IANA'), `the error is not kept next to the form: ${kept}`);
    assert(!(await browser.execute(() => document.getElementById('account-form').hidden)), 'the form closed on an error');
    assert((await browser.execute(() => document.getElementById('account-description').value)) === 'Key customer', 'the typed description was lost');
    await setField('account-timezone', 'Europe/London');
    await submit('account-form');
    await toastSays('Account Customer A saved.');
    assert(await browser.execute(() => !document.querySelector('#account-form + .panel-error')), 'the error stayed after the form worked');
    await waitText('account-meta', (t) => t.includes('Europe/London') && t.includes('Key customer'), 'the account did not change');
  });

  /** Connect, then login and consent in the sign-in window, until it closes. */
  const signInThere = async () => {
    const auth = await openSignIn();
    // Which site asks for the password: in the sign-in window's title (above the page) and
    // in the main window, with http flagged as not secure (the test provider is http).
    const host = new URL(issuer).host;
    await waitText('progress-address', (t) => t.includes(host) && t.includes('not secure'), 'the main window does not say where the sign-in is');
    await browser.waitUntil(async () => {
      const out = execFileSync('python3', [path.join(ROOT, 'tests', 'e2e', 'xact.py'), 'title', 'name:Sign in to'], { env, encoding: 'utf8' });
      return out.includes(`⚠ not secure: http://${host}`);
    }, { timeout: 10_000, timeoutMsg: 'the sign-in window\'s title does not show the address' });
    await browser.switchToWindow(auth);
    await loginForm();
    await (await browser.$('input[name=login]')).setValue('dora');
    await (await browser.$('input[name=password]')).setValue('anything');
    const loginUrl = await browser.getUrl();
    await (await browser.$('button[type=submit]')).click();
    await browser.waitUntil(async () => (await browser.getUrl().catch(() => loginUrl)) !== loginUrl, { timeout: 20_000 });
    await browser.waitUntil(async () => /continue/i.test(await browser.$('button[type=submit]').getText().catch(() => '')), {
      timeout: 20_000, timeoutMsg: 'no consent page',
    });
    await shot('consent');
    await (await browser.$('button[type=submit]')).click();
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 1, {
      timeout: 20_000, timeoutMsg: 'the sign-in window did not close',
    });
    await browser.switchToWindow(main);
  };

  await check('Connect opens the provider in a sign-in window; login and consent there; the window closes', async () => {
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await signInThere();
  });

  await check('the inspector shows Authenticated with an expiry; a secret is revealed on its own and hidden again', async () => {
    await toastSays('Signed in.');
    await waitText('inspect-status', (t) => t.includes('Authenticated') && !t.includes('Not'), 'not authenticated');
    await waitText('inspect-expires', (t) => t.includes('(in '), 'no expiry countdown');
    const secret = (field) => browser.execute((f) => {
      const div = [...document.querySelectorAll('#secrets .secret')].find((d) => d.dataset.field === f);
      return div ? div.querySelector('code').textContent : null;
    }, field);
    const masked = await secret('AccessToken');
    assert(masked && masked.includes('••••'), `not masked: ${masked}`);
    await browser.execute(() => [...document.querySelectorAll('#secrets .secret')].find((d) => d.dataset.field === 'AccessToken')
      .querySelector('button').click());
    await browser.waitUntil(async () => (await secret('AccessToken')) !== masked, { timeout: 10_000, timeoutMsg: 'not revealed' });
    assert(!(await secret('AccessToken')).includes('••••'), 'the revealed value is still masked');
    assert((await secret('RefreshToken')).includes('••••'), 'revealing one value revealed another');
    await shot('inspector');
    await browser.execute(() => [...document.querySelectorAll('#secrets .secret')].find((d) => d.dataset.field === 'AccessToken')
      .querySelector('button').click());
    await browser.waitUntil(async () => (await secret('AccessToken')) === masked, { timeout: 10_000, timeoutMsg: 'not hidden again' });
  });

  await check('the method tester runs userinfo and shows the provider\'s answer', async () => {
    await tab('tester');
    await (await byId('tester-method')).selectByAttribute('value', 'userinfo');
    await click('#run-method');
    await waitText('tester-result', (t) => t.startsWith('HTTP 200') && t.includes('dora@example.com'), 'no userinfo');
    await shot('method-tester');
  });

  await check('Refresh now gets a new token and the history says so, and why', async () => {
    await click('#refresh-now');
    await toastSays('Refreshed.');
    await tab('history');
    await waitText('history', (t) => t.includes('Refreshed the access token') && t.includes('you asked'), 'no refresh in the history');
    await shot('history');
  });

  await check('Disconnect says first that it revokes, then revokes and forgets the credential; the history says what happened', async () => {
    await tab('credential');
    await clickTwice('disconnect', 'revoke the tokens at the provider');
    await toastSays('Disconnected.');
    await toastSays('Revoked at the provider: RefreshToken, AccessToken');
    await waitText('inspect-status', (t) => t.includes('Not authenticated'), 'still authenticated');
    await waitText('disconnect-why', (t) => t.includes('Nothing stored'), 'Disconnect does not say there is nothing left');
    assert(await browser.execute(() => document.getElementById('disconnect').disabled), 'Disconnect is enabled with nothing stored');
    await tab('history');
    await waitText('history', (t) => t.includes('Disconnected: the credential was forgotten here') && t.includes('Revoked at the provider — RefreshToken, AccessToken'),
      'the history does not say what was revoked');
    await tab('credential');
  });

  await check('JSON pasted as an API key is questioned, not stored', async () => {
    await install('stripe', 'Customer A Stripe');
    await tab('credential');
    await setField('cred-key', '{"AccessToken": "abc", ');
    await submit('cred-form');
    await toastSays('looks like JSON');
    await waitText('inspect-status', (t) => t.includes('Not authenticated'), 'the JSON was stored as the key');
    assert((await browser.execute(() => document.getElementById('cred-key').type)) === 'password', 'the key field is not a password field');
    // Nothing stored: nothing to disconnect, and the history invents nothing.
    await waitText('disconnect-why', (t) => t.includes('Nothing stored'), 'no reason next to Disconnect');
    assert(await browser.execute(() => document.getElementById('disconnect').disabled), 'Disconnect is enabled for a connector with no credential');
    await tab('history');
    const history = await text('history');
    assert(!/revoked|Disconnected/i.test(history), `the history of a connector that never held a key: ${history}`);
    await tab('credential');
    await shot('api-key-form');
  });

  await check('Basic credentials from the form authenticate a Basic method at the real server; what is typed survives an update from the CLI', async () => {
    await install('test-basic', 'Customer A token endpoint');
    await tab('credential');
    await setField('cred-username', 'authdesk-web');
    await setField('cred-password', 'authdesk-web-secret');
    await submit('cred-form');
    await toastSays('Credentials saved');
    await waitText('inspect-status', (t) => t.includes('not verified'), 'no "not verified" state');
    await tab('tester');
    await (await byId('tester-method')).selectByAttribute('value', 'client-token');
    const grant = await byId('param-grant_type');
    await grant.click();
    await grant.setValue('client_credentials');
    const before = await text('totals');
    // Another process changes the data directory: the window updates, the typing stays.
    cli(['accounts', 'create', '--name', 'Bystander']);
    await waitText('totals', (t) => t !== before && t.includes('2 accounts'), 'the window did not notice the CLI');
    const kept = await browser.execute(() => [document.getElementById('param-grant_type').value,
      document.activeElement && document.activeElement.id]);
    assert(kept[0] === 'client_credentials' && kept[1] === 'param-grant_type', `typed value or focus lost: ${JSON.stringify(kept)}`);
    await click('#run-method');
    await waitText('tester-result', (t) => t.startsWith('HTTP 200') && t.includes('access_token'), 'the server did not accept the Basic credentials');
    await waitText('ac-status', (t) => t.includes('verified') && !t.includes('not'), 'the call did not verify the credentials');
    await shot('basic-verified');
  });

  await check('a free-form request goes to the connector\'s host with the stored Basic credentials applied, and nowhere else', async () => {
    await click('#free-request summary');
    await setField('free-method', 'POST');
    await setField('free-target', '/token');
    await setField('free-headers', 'Content-Type: application/x-www-form-urlencoded');
    await setField('free-body', 'grant_type=client_credentials');
    await click('#send-request');
    // oidc-provider checks the Basic credentials (client_secret_basic): 200 with a token.
    await waitText('free-result', (t) => t.startsWith('HTTP 200') && t.includes('access_token'), 'the free-form request was not answered 200');
    await browser.execute(() => document.getElementById('free-result').scrollIntoView());
    await shot('free-form-request');
    // The auth's own header is refused, and so is another host: nothing is sent.
    await setField('free-headers', 'Authorization: Basic bWU6bWU=');
    await click('#send-request');
    await waitText('free-result', (t) => t.includes('set by the connector\'s auth'), 'the Authorization header was not refused');
    await setField('free-headers', '');
    await setField('free-target', 'https://attacker.example/collect');
    await click('#send-request');
    await waitText('free-result', (t) => t.includes('attacker.example') && t.includes('origins'), 'another host was not refused');
    await setField('free-target', '/token');
    await browser.execute(() => document.getElementById('tester-method').scrollIntoView({ block: 'center' }));
  });

  await check('the method tester keeps inputs per method, wraps long answers, and clears the result when another connector is opened', async () => {
    const methods = await browser.execute(() => [...document.querySelectorAll('#tester-method option')].map((o) => o.value));
    const another = methods.find((m) => m !== 'client-token');
    assert(another, `only one method: ${JSON.stringify(methods)}`);
    await (await byId('tester-method')).selectByAttribute('value', another);
    await (await byId('tester-method')).selectByAttribute('value', 'client-token');
    assert((await (await byId('param-grant_type')).getValue()) === 'client_credentials', 'the typed parameter was lost on a method switch');
    const wrap = await browser.execute(() => getComputedStyle(document.getElementById('tester-result')).whiteSpace);
    assert(wrap === 'pre-wrap', `long answers do not wrap (white-space: ${wrap})`);
    assert(await (await byId('tester-result')).isDisplayed(), 'no result to clear');
    await click('#ac-table tbody tr:first-child');
    await waitText('ac-title', (t) => !t.startsWith('Customer A token endpoint'), 'another connector did not open');
    await tab('tester');
    assert(!(await (await byId('tester-result')).isDisplayed()), 'the previous connector\'s result is still shown');
  });

  await check('a connector without a credential opens on Credential; one with a credential on the tab last used for it', async () => {
    const open = async (name) => {
      await browser.execute((n) => [...document.querySelectorAll('#ac-table tbody tr')].find((tr) => tr.textContent.includes(n)).click(), name);
      await waitText('ac-title', (t) => t.startsWith(name), `${name} did not open`);
    };
    const selected = () => browser.execute(() => document.querySelector('[role=tab][aria-selected=true]').id);
    await open('Customer A token endpoint'); // Basic credentials stored
    await tab('history');
    await open('Customer A Stripe'); // no API key stored
    await browser.waitUntil(async () => (await selected()) === 'tab-credential',
      { timeout: 10_000, timeoutMsg: `a connector without a credential opened on ${await selected()}` });
    await tab('properties');
    await open('Customer A token endpoint');
    await browser.waitUntil(async () => (await selected()) === 'tab-history',
      { timeout: 10_000, timeoutMsg: `the connector did not reopen on its last tab (History) but on ${await selected()}` });
    await open('Customer A Stripe');
    await browser.waitUntil(async () => (await selected()) === 'tab-credential',
      { timeout: 10_000, timeoutMsg: `without a credential it should open on Credential, not ${await selected()}` });
  });

  await check('an error says what to do with a button: Connect without an OAuth app offers to set it up', async () => {
    await install('github', 'Customer A GitHub');
    await click('#connect');
    await toastSays('ClientId');
    // Names the user knows first, the ids after them.
    const said = await text('toast');
    assert(said.includes('“Customer A GitHub” (account connector ') && said.includes('“GitHub” (`github`)'), `the error names: ${said}`);
    await shot('error-hint');
    await browser.execute(() => [...document.querySelectorAll('#toast-actions button')]
      .find((b) => b.textContent.startsWith('Set the library OAuth app')).click());
    await waitText('lib-title', (t) => t.includes('(github,'), 'the library entry did not open');
    assert((await browser.execute(() => document.activeElement.id)) === 'client-id', 'the ClientId field is not focused');
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await click('#nav-accounts');
  });

  await check('properties are one row per declared property (no free-text names)', async () => {
    await browser.execute(() => [...document.querySelectorAll('#account-list li')].find((li) => li.textContent.startsWith('Customer A')).click());
    await browser.waitUntil(async () => browser.execute(() => [...document.querySelectorAll('#ac-table tr')].some((tr) => tr.textContent.includes('Customer A provider'))),
      { timeout: 10_000, timeoutMsg: 'no provider row' });
    await browser.execute(() => [...document.querySelectorAll('#ac-table tr')].find((tr) => tr.textContent.includes('Customer A provider')).click());
    await waitText('ac-title', (t) => t.startsWith('Customer A provider'), 'did not open');
    await tab('properties');
    const rows = await browser.execute(() => [...document.querySelectorAll('#properties .prop-row')].map((r) => r.dataset.property));
    assert(['ClientId', 'ClientSecret', 'RedirectUri'].every((p) => rows.includes(p)), JSON.stringify(rows));
    assert(await browser.execute(() => document.querySelector('#properties [data-property="ClientSecret"] input').type === 'password'), 'ClientSecret is not a secret input');
    assert(!(await browser.execute(() => !!document.getElementById('property-name'))), 'a free-text property name field exists');
    await shot('properties');
    await tab('credential');
  });

  await check('a second account\'s sign-in shows the login form again (no cookie carried over)', async () => {
    await createAndInstall('Customer B');
    const auth = await openSignIn();
    await browser.switchToWindow(auth);
    await loginForm();
  });

  await check('a third-party page in the sign-in window cannot invoke any command', async () => {
    const outcome = await browser.executeAsync((done) => {
      const ipc = window.__TAURI_INTERNALS__;
      if (!ipc || typeof ipc.invoke !== 'function') { done('no IPC bridge'); return; }
      Promise.resolve()
        .then(() => ipc.invoke('reveal_api_key'))
        .then((v) => done(`ALLOWED: ${String(v).slice(0, 4)}…`), (e) => done(`refused: ${String(e)}`));
      setTimeout(() => done('no answer (refused)'), 5000);
    });
    console.log(`#   invoke from the sign-in window: ${outcome}`);
    assert(!outcome.startsWith('ALLOWED'), outcome);
  });

  const selectRow = async (account, connector) => {
    await browser.execute((name) => [...document.querySelectorAll('#account-list li')]
      .find((li) => li.textContent.startsWith(name)).click(), account);
    await browser.waitUntil(async () => browser.execute((name) => [...document.querySelectorAll('#ac-table tr')]
      .some((tr) => tr.textContent.includes(name)), connector), { timeout: 10_000, timeoutMsg: `no row ${connector}` });
    await browser.execute((name) => [...document.querySelectorAll('#ac-table tr')]
      .find((tr) => tr.textContent.includes(name)).click(), connector);
    await waitText('ac-title', (t) => t.startsWith(connector), `${connector} did not open`);
  };

  await check('a second Connect (another customer) while a sign-in is open opens no second window and says one is in progress', async () => {
    await browser.switchToWindow(main);
    await selectRow('Customer A', 'Customer A provider');
    await click('#connect');
    await toastSays('already in progress');
    const handles = await browser.getWindowHandles();
    assert(handles.length === 2, `${handles.length} windows: a second sign-in window opened`);
    // Customer B's sign-in window is untouched: still at the provider's login form.
    await browser.switchToWindow(handles.find((h) => h !== main));
    await loginForm();
    await browser.switchToWindow(main);
    await selectRow('Customer B', 'Customer B provider');
  });

  await check('Cancel closes the sign-in window and says nothing was changed', async () => {
    await browser.switchToWindow(main);
    await click('#cancel-sign-in');
    await toastSays('The sign-in window was closed; nothing was changed.');
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 1, {
      timeout: 10_000, timeoutMsg: 'the sign-in window is still open',
    });
    await waitText('inspect-status', (t) => t.includes('Not authenticated'), 'status changed');
  });

  for (const [how, what] of [['destroy', 'destroyed by another X client (XDestroyWindow)'], ['delete', 'closed by a window manager (WM_DELETE_WINDOW)']]) {
    await check(`a sign-in window ${what} cancels the sign-in and the app lives on`, async () => {
      await browser.execute(() => { document.getElementById('toast').hidden = true; });
      await openSignIn();
      await browser.switchToWindow(main);
      execFileSync('python3', [path.join(ROOT, 'tests', 'e2e', 'xact.py'), how, 'name:Sign in to'], { env, encoding: 'utf8' });
      await toastSays('The sign-in window was closed; nothing was changed.');
      await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 1, {
        timeout: 10_000, timeoutMsg: 'the sign-in window is still listed',
      });
      await waitText('inspect-status', (t) => t.includes('Not authenticated'), 'status changed');
    });
  }

  await check('in system-browser mode the sign-in link can be copied (for another browser, or when none opens)', async () => {
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await setField('sign-in-mode', 'system_browser');
    await browser.waitUntil(async () => JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Customer B provider']))[0].SignInMode === 'system_browser',
      { timeout: 10_000, timeoutMsg: 'the sign-in mode was not saved' });
    await click('#connect');
    await browser.waitUntil(async () => browser.execute(() => !document.getElementById('copy-sign-in-link').hidden),
      { timeout: 20_000, timeoutMsg: `no sign-in link; progress: ${await text('progress-text').catch(() => '?')}` });
    await shot('system-browser');
    await click('#cancel-sign-in');
    await toastSays('nothing was changed');
    await setField('sign-in-mode', 'default');
  });

  await check('Refresh now without a refresh token changes nothing: it says so, with the expiry, and offers Sign in again', async () => {
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await tab('credential');
    await browser.execute(() => { document.querySelector('#cred-form details').open = true; });
    await setField('cred-access', 'an-access-token-without-refresh');
    await setField('cred-expires', '2099-01-01T00:00:00Z');
    await submit('cred-form');
    await toastSays('Tokens imported.');
    await waitText('inspect-status', (t) => t.includes('Authenticated'), 'not Authenticated after the import');
    await click('#refresh-now');
    await toastSays('no refresh token');
    const toastText = await text('toast');
    assert(toastText.includes('“Customer B provider” (account connector '), `the error does not name the connector: ${toastText}`);
    assert(toastText.includes('nothing was changed') && toastText.includes('2099-01-01'), `toast: ${toastText}`);
    assert(await browser.execute(() => [...document.querySelectorAll('#toast-actions button')].some((b) => b.textContent === 'Sign in again')),
      'no "Sign in again" button');
    const stored = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Customer B provider']))[0];
    assert(stored.Status === 'Authenticated', `status became ${stored.Status}`);
    await waitText('inspect-status', (t) => t.includes('Authenticated'), 'the inspector no longer says Authenticated');
    await shot('no-refresh-token');
  });

  await check('tokens imported from the form that the provider refuses mark the connector as needing the user; the header chip opens the dashboard', async () => {
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await tab('credential');
    await browser.execute(() => { document.querySelector('#cred-form details').open = true; });
    await setField('cred-access', 'expired-access-token');
    await setField('cred-refresh', 'not-a-refresh-token');
    await setField('cred-expires', '2020-01-01T00:00:00Z');
    await submit('cred-form');
    await toastSays('Tokens imported.');
    await tab('tester');
    await (await byId('tester-method')).selectByAttribute('value', 'userinfo');
    await click('#run-method');
    await toastSays('sign in again');
    assert(await browser.execute(() => [...document.querySelectorAll('#toast-actions button')].some((b) => b.textContent === 'Sign in again')),
      'no "Sign in again" button');
    await waitText('attention', (t) => t.includes('1 connector needs attention'), 'no attention chip');
    await click('#attention');
    await waitText('attention-table', (t) => t.includes('Customer B provider') && t.includes('Needs re-authentication'), 'not on the dashboard');
    await waitText('expiring-table', (t) => t.length > 0, 'no expiring list');
    await shot('dashboard');
  });

  // Opens an account connector by its name through the dashboard's search, as a user would.
  const openByName = async (name) => {
    await click('#nav-dashboard');
    await setField('find-status', '');
    await setField('find-search', name);
    await browser.waitUntil(async () => browser.execute((n) => [...document.querySelectorAll('#find-table tbody tr')]
      .some((tr) => tr.textContent.includes(n)), name), { timeout: 10_000, timeoutMsg: `the dashboard does not find ${name}` });
    await browser.execute((n) => [...document.querySelectorAll('#find-table tbody tr')].find((tr) => tr.textContent.includes(n)).click(), name);
    await waitText('ac-title', (t) => t.startsWith(name), `${name} did not open`);
    await setField('find-search', '');
  };
  const attentionRows = () => browser.execute(() => [...document.querySelectorAll('#attention-table tbody tr')].map((tr) => tr.textContent));

  await check('an access token that runs out with nothing to renew it turns Expired on the row, the account, the header and the dashboard, with Sign in again and no refresh time in the past', async () => {
    await openByName('Customer B provider');
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await tab('credential');
    await browser.execute(() => { document.querySelector('#cred-form details').open = true; });
    await setField('cred-access', 'a-token-that-runs-out');
    await setField('cred-refresh', '');
    await setField('cred-expires', new Date(Date.now() + 4000).toISOString());
    await submit('cred-form');
    await toastSays('Tokens imported.');
    await waitText('inspect-status', (t) => t.includes('Authenticated'), 'not Authenticated after the import');
    // Nothing is written when it runs out: the window notices by itself.
    await waitText('inspect-status', (t) => t.includes('Expired'), 'the inspector never said Expired');
    await waitText('ac-status', (t) => t.includes('Expired'), 'the header of the connector does not say Expired');
    await waitText('ac-table', (t) => t.includes('Expired'), 'the account\'s row does not say Expired');
    await waitText('attention', (t) => t.includes('1 connector needs attention'), 'the header does not count it');
    const margin = await text('inspect-refresh-margin');
    assert(!margin.includes('next refresh due'), `a refresh time for a token nothing can renew: ${margin}`);
    await waitText('last-error', (t) => t.includes('expired') && t.includes('no usable refresh token'), 'no explanation');
    assert(await browser.execute(() => [...document.querySelectorAll('#last-error-actions button')].some((b) => b.textContent === 'Sign in again')),
      'no "Sign in again" next to it');
    const marker = await browser.execute(() => [...document.querySelectorAll('#account-list li')].find((li) => li.textContent.includes('Customer B')).textContent);
    assert(marker.includes('1'), `the account's marker: ${marker}`);
    const listed = JSON.parse(cli(['--json', 'account-connectors', 'list', '--needs-attention']));
    assert(listed.length === 1 && listed[0].Name === 'Customer B provider' && listed[0].Status === 'Expired', `the CLI lists: ${JSON.stringify(listed.map((a) => [a.Name, a.Status]))}`);
    await shot('expired');
    await click('#attention');
    await browser.waitUntil(async () => { const r = await attentionRows(); return r.length === 1 && r[0].includes('Customer B provider') && r[0].includes('Expired'); },
      { timeout: 10_000, timeoutMsg: `Needs attention shows: ${JSON.stringify(await attentionRows())}` });
  });

  await check('a Basic password the provider refuses needs attention in the header and on the dashboard until one works; the username is shown, the password only as set', async () => {
    await openByName('Customer A token endpoint');
    await tab('credential');
    await waitText('inspect-username', (t) => t === 'authdesk-web', 'the stored username is not shown');
    await waitText('inspect-password', (t) => t === 'set', 'the password is not shown as set');
    const prefilled = await browser.execute(() => document.getElementById('cred-username').value);
    assert(prefilled === 'authdesk-web', `the form does not start from the stored username: ${prefilled}`);
    const typeAndRun = async (password, answer) => {
      await tab('credential');
      await setField('cred-username', 'authdesk-web');
      await setField('cred-password', password);
      await submit('cred-form');
      await toastSays('Credentials saved');
      await tab('tester');
      await (await byId('tester-method')).selectByAttribute('value', 'client-token');
      await setField('param-grant_type', 'client_credentials');
      await click('#run-method');
      await waitText('tester-result', (t) => t.startsWith(answer), `the server did not answer ${answer}`);
    };
    await typeAndRun('a-wrong-password', 'HTTP 401');
    await waitText('ac-status', (t) => t.includes('refused'), 'the row is not marked refused');
    await waitText('attention', (t) => t.includes('2 connectors need attention'), 'the header does not count the refused password');
    await tab('credential');
    await waitText('last-error', (t) => t.includes('refused'), 'the credential tab does not say it was refused');
    await click('#attention');
    await browser.waitUntil(async () => (await attentionRows()).some((r) => r.includes('Customer A token endpoint') && r.includes('refused')),
      { timeout: 10_000, timeoutMsg: `Needs attention shows: ${JSON.stringify(await attentionRows())}` });
    await shot('refused-on-dashboard');
    await openByName('Customer A token endpoint');
    await typeAndRun('authdesk-web-secret', 'HTTP 200');
    await waitText('attention', (t) => t.includes('1 connector needs attention'), 'a password that works still counts');
  });

  await check('the account search narrows the list; the dashboard finds an account connector across accounts by name and status', async () => {
    await click('#nav-accounts');
    const accounts = () => browser.execute(() => [...document.querySelectorAll('#account-list li')].map((li) => li.textContent).join('|'));
    await setField('account-search', 'customer b');
    await browser.waitUntil(async () => { const t = await accounts(); return t.startsWith('Customer B') && !t.includes('Customer A'); },
      { timeout: 10_000, timeoutMsg: 'the account list was not narrowed' });
    await setField('account-search', '');
    await browser.waitUntil(async () => (await accounts()).includes('Customer A'), { timeout: 10_000, timeoutMsg: 'the full list did not come back' });
    await click('#nav-dashboard');
    await setField('find-status', 'NotAuthenticated');
    await setField('find-search', 'A provider');
    const rows = () => browser.execute(() => [...document.querySelectorAll('#find-table tbody tr')].map((tr) => tr.textContent));
    await browser.waitUntil(async () => { const r = await rows(); return r.length === 1 && r[0].includes('Customer ACustomer A provider'); },
      { timeout: 10_000, timeoutMsg: `Find shows: ${JSON.stringify(await rows())}` });
    await setField('find-status', 'Authenticated');
    await browser.waitUntil(async () => (await rows()).join('').includes('(none)'), { timeout: 10_000, timeoutMsg: 'the status filter did not apply' });
    await setField('find-status', '');
    await browser.waitUntil(async () => { const r = await rows(); return r.length === 1 && r[0].includes('Customer A provider'); },
      { timeout: 10_000, timeoutMsg: 'no row without the status filter' });
    // One search over what a user knows: the connector's display name, the account's name, an Id.
    const finds = async (text, predicate, what) => {
      await setField('find-search', text);
      await browser.waitUntil(async () => predicate(await rows()), { timeout: 10_000, timeoutMsg: `"${text}" (${what}) finds: ${JSON.stringify(await rows())}` });
    };
    await finds('test provider', (r) => r.some((t) => t.includes('Customer A provider')) && r.some((t) => t.includes('Customer B provider')), 'display name');
    await finds('customer b', (r) => r.length >= 1 && r.every((t) => t.includes('Customer B')), 'account name');
    const id = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Customer A token endpoint']))[0].Id;
    await finds(String(id), (r) => r.some((t) => t.startsWith(`${id}`) && t.includes('Customer A token endpoint')), 'Id');
    await setField('find-search', 'A provider');
    await browser.waitUntil(async () => { const r = await rows(); return r.length === 1 && r[0].includes('Customer A provider'); },
      { timeout: 10_000, timeoutMsg: 'the search by name did not come back' });
    await shot('find');
    await click('#find-table tbody tr');
    await waitText('ac-title', (t) => t.startsWith('Customer A provider'), 'the found account connector did not open');
    assert(await (await byId('view-accounts')).isDisplayed(), 'the accounts view is not shown');
    await shot('accounts');
  });

  await check('every input, select and text area has a label; keyboard: Enter opens an account, arrow keys move between tabs, "/" goes to the search and Escape empties it', async () => {
    // The account connector's panel is open (dynamic forms included): check the whole page.
    const unlabelled = await browser.execute(() => [...document.querySelectorAll('input, select, textarea')]
      .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
      .map((e) => e.id || e.name || e.outerHTML.slice(0, 80)));
    assert(unlabelled.length === 0, `inputs without a label: ${JSON.stringify(unlabelled)}`);
    // The account connector found on the dashboard is open.
    await (await browser.$('#tab-credential')).click();
    await browser.keys('ArrowRight');
    await browser.waitUntil(async () => (await browser.execute(() => [document.activeElement.id,
      document.getElementById('tab-properties').getAttribute('aria-selected'),
      document.getElementById('panel-properties').hidden])).join() === 'tab-properties,true,false',
    { timeout: 5_000, timeoutMsg: 'ArrowRight did not move to the Properties tab' });
    await browser.keys('ArrowLeft');
    await browser.waitUntil(async () => (await browser.execute(() => document.activeElement.id)) === 'tab-credential',
      { timeout: 5_000, timeoutMsg: 'ArrowLeft did not move back to the Credential tab' });
    const other = await browser.execute(() => {
      const current = document.getElementById('account-title').textContent;
      const li = [...document.querySelectorAll('#account-list li')].find((l) => !l.textContent.startsWith(current));
      li.focus();
      return li.textContent;
    });
    await browser.keys('Enter');
    await waitText('account-title', (t) => t.length > 0 && other.startsWith(t), `Enter on the row "${other}" did not open it`);
    // "/" goes to the search of the view in front; Escape empties it and the list comes back.
    const focused = () => browser.execute(() => document.activeElement.id);
    const rows = () => browser.execute(() => document.querySelectorAll('#account-list li:not(.muted)').length);
    const before = await rows();
    await browser.execute(() => document.activeElement.blur());
    await browser.keys('/');
    await browser.waitUntil(async () => (await focused()) === 'account-search',
      { timeout: 5_000, timeoutMsg: '"/" did not go to the account search' });
    await browser.keys(['q', 'z', 'x', 'j']);
    await browser.waitUntil(async () => (await rows()) === 0,
      { timeout: 5_000, timeoutMsg: 'typing after "/" did not search' });
    await browser.keys('Escape');
    await browser.waitUntil(async () => (await rows()) === before
      && (await browser.execute(() => document.getElementById('account-search').value)) === '',
    { timeout: 5_000, timeoutMsg: 'Escape did not empty the search' });
    await click('#nav-dashboard');
    await browser.execute(() => document.activeElement.blur());
    await browser.keys('/');
    await browser.waitUntil(async () => (await focused()) === 'find-search',
      { timeout: 5_000, timeoutMsg: '"/" on the dashboard did not go to its search' });
    await click('#nav-accounts');
  });

  await check('a connector discovered from an issuer URL opens at the top of its detail', async () => {
    await click('#nav-library');
    await browser.execute(() => { document.querySelector('#discover').closest('details').open = true; });
    await setField('discover-issuer', issuer);
    await setField('discover-id', 'discovered-e2e');
    await browser.execute(() => { document.getElementById('discover').scrollIntoView({ block: 'end' }); window.scrollTo(0, document.body.scrollHeight); });
    // The form is far down: the window is scrolled (else this check would prove nothing).
    const before = await browser.execute(() => window.scrollY);
    assert(before > 0, 'the library view is not scrolled at the Discover form');
    await submit('discover');
    await toastSays('added to the library');
    await waitText('lib-title', (t) => t.includes('discovered-e2e'), 'the discovered connector did not open');
    await browser.waitUntil(async () => browser.execute(() => {
      const r = document.getElementById('lib-title').getBoundingClientRect();
      return r.top >= 0 && r.bottom <= window.innerHeight;
    }), { timeout: 10_000, timeoutMsg: `the detail's title is not in view (window scrolled to ${await browser.execute(() => window.scrollY)})` });
    await shot('discovered');
  });

  await check('the library is searched by name and narrowed by category and by way to authenticate; a connector shows its sources, category and when they were read', async () => {
    await click('#nav-library');
    const rows = () => browser.execute(() => [...document.querySelectorAll('#library tbody tr')].map((tr) => tr.dataset.slug).filter(Boolean));
    await setField('library-category', 'crm');
    let shown = await rows();
    assert(shown.includes('hubspot') && shown.includes('salesforce') && !shown.includes('github'), `crm: ${shown}`);
    await setField('library-search', 'HUB');
    shown = await rows();
    assert(shown.length === 1 && shown[0] === 'hubspot', `crm + hub: ${shown}`);
    await waitText('library-count', (t) => /^\(1 of \d+\)$/.test(t), 'the count does not say how many are shown');
    await setField('library-search', '');
    await setField('library-category', '');
    await setField('library-auth', 'OAuth1');
    shown = await rows();
    assert(shown.includes('trello') && !shown.includes('hubspot'), `OAuth 1.0a: ${shown}`);
    await setField('library-auth', '');
    await browser.execute(() => document.querySelector('#library tbody tr[data-slug="trello"]').click());
    await waitText('lib-sources', (t) => t.includes('https://') && t.includes('Last read') && t.includes('productivity'), 'the sources, category and reading are not shown');
    assert(await browser.execute(() => document.querySelectorAll('#lib-sources a').length > 0), 'the sources are not links');
  });

  await check('screenshots of the library and settings; Settings says the keychain opens the secrets', async () => {
    await click('#nav-library');
    assert(await (await byId('view-library')).isDisplayed(), 'the library is not shown');
    assert(!(await (await byId('view-accounts')).isDisplayed()), 'the accounts view is still shown');
    await shot('library');
    await click('#nav-settings');
    assert(!(await (await byId('view-library')).isDisplayed()), 'the library is still shown');
    await waitText('callback-uri', (t) => t.includes('/connector/callback'), 'no redirect URI shown');
    await waitText('vault-health', (t) => t.startsWith('OK'), 'no keychain health line');
    await waitText('database', (t) => t.startsWith('SQLite ') && t.endsWith('authdesk.db'), 'no database line');
    await shot('settings');
  });

  await check('Settings creates an API client whose credentials get a token at /oauth/token; revoking it ends that', async () => {
    await (await byId('api-client-name')).setValue('Partner backend');
    await click('#api-client-form button[type=submit]');
    await waitText('new-client-secret', (t) => t.startsWith('adk_cs_'), 'no ClientSecret shown');
    const clientId = await text('new-client-id');
    const clientSecret = await text('new-client-secret');
    const api = await text('api-address');
    const token = () => fetch(`${api}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
    });
    const r = await token();
    assert(r.status === 200, `token request answered ${r.status}`);
    const answer = await r.json();
    assert(answer.token_type === 'bearer' && answer.clientId === clientId, JSON.stringify(answer));
    await shot('api-clients');
    const revoke = () => browser.execute((id) => document.querySelector(`#api-clients li[data-id="${id}"] button`).click(), clientId);
    await revoke(); // arms
    await revoke(); // confirms
    await toastSays('revoked');
    assert((await token()).status === 401, 'a revoked client still gets tokens');
  });

  await check('an allowed origin typed with a path is trimmed, with a visible note', async () => {
    await setField('origin', 'https://partner.example/complete?x=1');
    await submit('origin-form');
    await waitText('origin-note', (t) => t.includes('allowed as https://partner.example'), 'no note');
    await waitText('origins', (t) => t.includes('https://partner.example'), 'not in the list');
  });

  await check('a connector made with the form takes extra authorization parameters; a sign-in that gets no refresh token says so in the window and the history', async () => {
    await click('#nav-library');
    await browser.execute(() => { document.getElementById('oauth-form-card').open = true; });
    await setField('oauth-id', 'form-provider');
    await setField('oauth-name', 'Form provider');
    await setField('oauth-authorize', `${issuer}/auth`);
    await setField('oauth-token', `${issuer}/token`);
    await setField('oauth-scopes', 'openid');
    await setField('oauth-params', 'prompt=consent\nstate=mine');
    await setField('oauth-sign-in', 'webview');
    await submit('oauth-form');
    await toastSays('is set by Authdesk itself');
    await setField('oauth-params', 'prompt=consent');
    await submit('oauth-form');
    await toastSays('Form provider created.');
    const shown = cli(['connectors', 'show', 'form-provider']);
    assert(shown.includes('prompt=consent'), `the definition does not hold the parameter: ${shown}`);
    cli(['connectors', 'set-client', 'form-provider', '--client-id', 'authdesk-native', '--client-secret-stdin'], 'authdesk-native-secret');
    await click('#nav-accounts');
    await browser.execute(() => [...document.querySelectorAll('#account-list li')].find((li) => li.textContent.startsWith('Customer A')).click());
    await waitText('account-title', (t) => t.startsWith('Customer A'), 'Customer A did not open');
    await browser.waitUntil(async () => browser.execute(() => !!document.querySelector('#install-connector option[value="form-provider"]')),
      { timeout: 10_000, timeoutMsg: 'the new connector is not offered for install' });
    await install('form-provider', 'Customer A form provider');
    await browser.execute(() => { document.getElementById('toast').hidden = true; });
    await signInThere();
    await toastSays('Signed in, with less than asked');
    await toastSays('no refresh token');
    await tab('history');
    await waitText('history', (t) => t.includes('The sign-in got less than it asked for') && t.includes('no refresh token'), 'the history does not say what the grant lacked');
    await shot('granted-less');
    await tab('credential');
    // Its OAuth app can be removed from the window.
    await openLibraryEntry('form-provider');
    await clickTwice('clear-client', 'Click again');
    await toastSays('OAuth app removed');
    await waitText('client-secret-note', (t) => t.includes('Not set up yet'), 'the form still shows an app');
    const lib = JSON.parse(cli(['--json', 'connectors', 'show', 'form-provider']));
    assert(!lib.ClientId && !lib.ClientSecretSet, `the library entry still has an app: ${JSON.stringify([lib.ClientId, lib.ClientSecretSet])}`);
  });

  await check('AuthFields from the form (one input per declared field, secret ones masked) authenticate a method at the real server', async () => {
    await openByName('Customer A token endpoint'); // Customer A's account, where install is
    await install('test-fields', 'Customer A fields');
    await tab('credential');
    const types = await browser.execute(() => [0, 1].map((i) => document.getElementById(`cred-field-${i}`).type));
    assert(types[0] === 'password' && types[1] === 'text', `secret field not masked, or plain field masked: ${types}`);
    // A blank field is refused and nothing is stored.
    await setField('cred-field-1', 'Acme');
    await submit('cred-form');
    await toastSays('Authorization is empty');
    await setField('cred-field-0', `Basic ${Buffer.from('authdesk-web:authdesk-web-secret').toString('base64')}`);
    await submit('cred-form');
    await toastSays('Auth fields saved');
    await waitText('ac-status', (t) => t.includes('Fields set') && t.includes('not verified'), 'no "not verified" state');
    await waitText('secrets', (t) => t.includes('Acme'), 'the plain field is not shown as it is');
    const shown = await text('secrets');
    assert(!shown.includes('authdesk-web-secret') && !shown.includes('YXV0aGRlc2std2Vi'), 'the secret field is shown unmasked');
    await tab('tester');
    await (await byId('tester-method')).selectByAttribute('value', 'client-token');
    await setField('param-grant_type', 'client_credentials');
    await click('#run-method');
    await waitText('tester-result', (t) => t.startsWith('HTTP 200') && t.includes('access_token'), 'the server did not accept the header field');
    await waitText('ac-status', (t) => t.includes('Fields set · verified'), 'the call did not verify the fields');
    await shot('auth-fields');
  });

  await check('a private_key_jwt app: a key generated in the window, its public JWK registered at oidc-provider, then client credentials signed with it', async () => {
    await openLibraryEntry('test-signed');
    assert(await browser.execute(() => !document.getElementById('client-key').hidden
      && document.getElementById('client-jwk').hidden), 'the key part is not offered, or shows a key before one was made');
    await setField('client-id', 'not-registered-yet');
    await click('#generate-key');
    await toastSays('New key made and sealed');
    await waitText('client-jwk', (t) => t.startsWith('{'), 'the public key is not shown');
    const jwk = JSON.parse(await browser.execute(() => document.getElementById('client-jwk').textContent));
    assert(jwk.kty === 'EC' && jwk.kid && !('d' in jwk), `not a public JWK: ${JSON.stringify(jwk)}`);
    // The provider registers that public key (RFC 7591), and the app's ClientId is saved
    // alone: the key stays.
    const reg = await fetch(`${issuer}/reg`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, scope: 'api:read',
        grant_types: ['authorization_code', 'client_credentials'], response_types: ['code'], redirect_uris: ['https://app.example.com/callback'],
      }),
    }).then((r) => r.json());
    assert(reg.client_id, `registration failed: ${JSON.stringify(reg)}`);
    await setField('client-id', reg.client_id);
    await submit('client');
    await toastSays('OAuth app saved (its private key kept).');
    await openByName('Customer A token endpoint'); // Customer A's account, where install is
    await install('test-signed', 'Customer A signed');
    await click('#connect');
    await waitText('ac-status', (t) => t.startsWith('Authenticated'), 'client credentials signed with the key did not authenticate');
    await shot('private-key-jwt');
  });

  await check('device sign-in: the code, a QR code and a countdown; Cancel stops the wait; approved on another device it signs in', async () => {
    await openByName('Customer A token endpoint');
    await install('test-device', 'Customer A device');
    await click('#connect');
    await waitText('device-user-code', (t) => /^[A-Z]{4}-[A-Z]{4}$/.test(t), 'no user code shown');
    const shown = await browser.execute(() => ({
      uri: document.getElementById('device-uri').textContent,
      qr: document.getElementById('device-qr').width,
      countdown: document.getElementById('device-countdown').textContent,
    }));
    assert(shown.uri.endsWith('/device') && shown.qr > 80 && /expires in \d+:\d\d/.test(shown.countdown),
      `the device panel is incomplete: ${JSON.stringify(shown)}`);
    await shot('device-sign-in');
    await click('#cancel-sign-in');
    await toastSays('Device sign-in cancelled');
    assert(await browser.execute(() => document.getElementById('device-sign-in').hidden), 'the device panel stayed');
    // Again, approved by "another device" (HTTP at the provider's own pages).
    await click('#connect');
    await waitText('device-user-code', (t) => t.length > 0, 'no user code the second time');
    const link = await browser.execute(() => document.getElementById('device-uri').textContent);
    const code = await browser.execute(() => document.getElementById('device-user-code').textContent);
    await approveDevice(`${link}?user_code=${encodeURIComponent(code)}`, 'dora', true);
    await waitText('ac-status', (t) => t.startsWith('Authenticated'), 'the approved device sign-in did not authenticate');
  });

  await check('OAuth 1.0a: Connect runs the three legs with the provider\'s page in the sign-in window; Allow signs in; a method call is signed', async () => {
    await openByName('Customer A token endpoint');
    await install('test-oauth1', 'Customer A OAuth1');
    const auth = await openSignIn();
    await browser.switchToWindow(auth);
    await browser.waitUntil(async () => (await browser.$$('button[value=allow]')).length > 0, {
      timeout: 20_000, timeoutMsg: `no authorization page (at ${await browser.getUrl().catch(() => '?')})`,
    });
    await (await browser.$('button[value=allow]')).click();
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 1, {
      timeout: 20_000, timeoutMsg: 'the sign-in window did not close',
    });
    await browser.switchToWindow(main);
    await waitText('ac-status', (t) => t.startsWith('Authenticated'), 'the OAuth 1.0a sign-in did not authenticate');
    const id = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Customer A OAuth1']))[0].Id;
    const answer = JSON.parse(cli(['--json', 'call', String(id), 'me']));
    assert(answer.Status === 200 && answer.Body.id === 'trello-user', `the signed call failed: ${JSON.stringify(answer)}`);
  });

  await check('the connector editor: a built-in duplicated as mine, its definition edited (the id cannot change), a method added and called at the real server; removal only when unused', async () => {
    await openLibraryEntry('generic-basic');
    assert(await browser.execute(() => !document.getElementById('lib-builtin-note').hidden
      && document.getElementById('edit-card').hidden && document.getElementById('remove-connector').hidden), 'a built-in offers to be edited or removed');
    await click('#duplicate-card summary');
    await setField('duplicate-id', 'my-basic');
    await setField('duplicate-name', 'My token endpoint');
    await submit('duplicate-form');
    await toastSays('My token endpoint is yours now');
    await waitText('lib-source', (t) => t === 'Your connector', 'the copy is not mine');
    // Its definition, edited as text: the id cannot change (the field is named, the text kept).
    await click('#edit-card summary');
    const original = await browser.execute(() => document.getElementById('edit-text').value);
    const edited = original.replace('"https://{ApiHost}"', JSON.stringify(issuer))
      .replace(/\[\[properties\]\][\s\S]*?example = "api.example.com"\n/, '');
    assert(!edited.includes('"https://{ApiHost}"') && !edited.includes('name = "ApiHost"'), 'the test could not edit the text');
    await setField('edit-text', edited.replace('id = "my-basic"', 'id = "renamed"'));
    await submit('edit-form');
    await toastSays('id: the definition says `renamed`');
    assert((await browser.execute(() => document.getElementById('edit-text').value)).includes('id = "renamed"'), 'the typed text was lost');
    await setField('edit-text', edited);
    await submit('edit-form');
    await toastSays('My token endpoint saved.');
    // A method added with the form, its parameter on a line of its own.
    await click('#method-card summary');
    await setField('method-id', 'token-by-form');
    await setField('method-name', 'Token by form');
    await setField('method-http', 'POST');
    await setField('method-path', '/token');
    await setField('method-params', 'grant_type body required\nscope query maybe');
    await setField('method-body', 'form');
    await submit('method-form');
    await toastSays('parameters, line 2: only `required` may follow');
    await setField('method-params', 'grant_type body required');
    await submit('method-form');
    await toastSays('Method Token by form added');
    await waitText('lib-methods', (t) => t.includes('token-by-form') && t.includes('POST /token'), 'the method is not listed');
    const def = cli(['connectors', 'show', 'my-basic']);
    assert(def.includes('token-by-form'), `the CLI does not see the method: ${def}`);
    await shot('connector-editor');
    // Installed and called: the method works at the real server with the stored Basic credentials.
    await click('#nav-accounts');
    await browser.execute(() => [...document.querySelectorAll('#account-list li')].find((li) => li.textContent.startsWith('Customer A')).click());
    await waitText('account-title', (t) => t.startsWith('Customer A'), 'Customer A did not open');
    await browser.waitUntil(async () => browser.execute(() => !!document.querySelector('#install-connector option[value="my-basic"]')),
      { timeout: 10_000, timeoutMsg: 'the copy is not offered for install' });
    await install('my-basic', 'Customer A my token endpoint');
    await setField('cred-username', 'authdesk-web');
    await setField('cred-password', 'authdesk-web-secret');
    await submit('cred-form');
    await toastSays('Credentials saved');
    await tab('tester');
    await setField('tester-method', 'token-by-form');
    await setField('param-grant_type', 'client_credentials');
    await click('#run-method');
    await waitText('tester-result', (t) => t.startsWith('HTTP 200') && t.includes('access_token'), 'the added method did not work');
    // Removal is refused while it is installed, and says why.
    await openLibraryEntry('my-basic');
    await clickTwice('remove-connector', 'Click again');
    await toastSays('installed in 1 account connector');
    // A new API-key connector from the form, removed while unused.
    await browser.execute(() => { document.getElementById('plain-form-card').open = true; });
    await setField('plain-id', 'plain-key');
    await setField('plain-name', 'Plain key API');
    await setField('plain-api', 'https://{Subdomain}.plain.example/v1');
    await setField('plain-auth', 'api_key');
    await setField('plain-key-name', '');
    await submit('plain-form');
    await toastSays('auth.name');
    await setField('plain-key-name', 'X-Plain-Key');
    await submit('plain-form');
    await toastSays('Plain key API created');
    await waitText('lib-title', (t) => t.includes('(plain-key,'), 'the new connector did not open');
    const shown = JSON.parse(cli(['--json', 'connectors', 'show', 'plain-key']));
    assert(JSON.stringify(shown).includes('Subdomain'), `the base URL's property is not declared: ${JSON.stringify(shown).slice(0, 300)}`);
    await clickTwice('remove-connector', 'Click again');
    await toastSays('plain-key removed');
    await browser.waitUntil(async () => browser.execute(() => !document.querySelector('#library tr[data-slug="plain-key"]')),
      { timeout: 10_000, timeoutMsg: 'the removed connector is still listed' });
  });

  await check('from 800x600 to 1920x1080 the header never wraps (at 800 the views fold into a menu), nothing overflows sideways, and a message lies over no control; each view in screenshots at both sizes', async () => {
    const views = ['accounts', 'dashboard', 'library', 'settings'];
    for (const [w, h] of [[800, 600], [1920, 1080]]) {
      await browser.setWindowSize(w, h);
      await browser.waitUntil(async () => Math.abs((await browser.execute(() => window.innerWidth)) - w) < 40,
        { timeout: 10_000, timeoutMsg: `the window did not become ${w} wide` });
      for (const view of views) {
        const narrow = await browser.execute(() => getComputedStyle(document.getElementById('menu-toggle')).display !== 'none');
        assert(narrow === (w < 1000), `at ${w} px the menu button is ${narrow ? 'shown' : 'hidden'}`);
        if (narrow) {
          assert(await browser.execute(() => getComputedStyle(document.getElementById('views-nav')).display === 'none'), 'the views are not folded');
          await click('#menu-toggle');
          assert(await browser.execute(() => getComputedStyle(document.getElementById('views-nav')).display !== 'none'), 'the menu does not open');
        }
        await click(`#nav-${view}`);
        if (narrow) assert(await browser.execute(() => getComputedStyle(document.getElementById('views-nav')).display === 'none'), 'the menu stayed open after a choice');
        const m = await browser.execute(() => ({
          header: document.querySelector('header').getBoundingClientRect().height,
          overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
        }));
        assert(m.header < 60, `at ${w}x${h} the header is ${m.header} px high (it wraps)`);
        assert(m.overflow <= 0, `at ${w}x${h} the ${view} view overflows sideways by ${m.overflow} px`);
        await browser.waitUntil(async () => browser.execute((v) => !document.getElementById(`view-${v}`).hidden, view), { timeout: 5000, timeoutMsg: `${view} not shown` });
        await browser.pause(300); // let WebKit paint before the screenshot
        await shot(`${view}-${w}x${h}`);
      }
      // A message takes its own room: every control in view is still the element at its centre.
      await browser.execute(() => { document.getElementById('toast-text').textContent = 'A long message '.repeat(20); document.getElementById('toast').hidden = false; window.scrollTo(0, 0); });
      await click('#nav-accounts');
      const covered = await browser.execute(() => {
        const top = document.getElementById('top').getBoundingClientRect().bottom;
        return [...document.querySelectorAll('main button, main input, main select')].filter((e) => {
          const r = e.getBoundingClientRect();
          if (!r.width || !r.height || r.top < top || r.bottom > window.innerHeight) return false;
          const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
          return !(at === e || e.contains(at));
        }).map((e) => e.id || e.textContent);
      });
      assert(covered.length === 0, `at ${w}x${h} a message covers: ${JSON.stringify(covered)}`);
      await shot(`message-${w}x${h}`);
      await click('#toast-close');
    }
    await browser.setWindowSize(1280, 800);
  });

  await check('hand-over: a bundle made for the window’s recipient is imported in Settings; an account chosen in the window is exported to another desk, which reads its key', async () => {
    // Two other desks, each its own data directory (and keychain item).
    const dirs = fs.mkdtempSync(path.join(os.tmpdir(), 'authdesk-handover-'));
    const other = (name) => (args, input) => execFileSync(BIN, args, { env: { ...env, AUTHDESK_DATA_DIR: path.join(dirs, name) }, input, encoding: 'utf8' });
    const sender = other('sender');
    const receiver = other('receiver');
    try {
      await click('#nav-settings');
      await waitText('handover-recipient', (t) => t.startsWith('age1'), 'Settings shows no recipient');
      const windowRecipient = await text('handover-recipient');
      const account = JSON.parse(sender(['--json', 'accounts', 'create', '--name', 'Handed-in Customer'])).Id;
      const id = JSON.parse(sender(['--json', 'account-connectors', 'install', account, 'generic-api-key', '--name', 'Handed-in key', '--property', 'ApiHost=api.example.com'])).Id;
      sender(['account-connectors', 'set-authvalue', String(id), '--stdin'], 'handed-in-key-5c4b3a');
      const inFile = path.join(dirs, 'in.age');
      sender(['export', '--to', windowRecipient, '-o', inFile]);
      assert(!fs.readFileSync(inFile, 'utf8').includes('handed-in-key'), 'the key is readable in the bundle');
      await setField('import-path', inFile);
      await submit('import-form');
      await toastSays('Imported');
      await waitText('import-report', (t) => t.includes('Account connector Handed-in key: added'), 'the import report does not say what was added');
      const here = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Handed-in key']));
      assert(here.length === 1, `the window's desk has ${here.length} such account connectors`);
      const seen = JSON.parse(cli(['--json', 'inspect', String(here[0].Id), '--reveal']));
      assert(seen.Secrets[0].Value === 'handed-in-key-5c4b3a', 'the imported key is not the one sent');
      await submit('import-form');
      await toastSays('Nothing new');
      await shot('handover-import');

      // Out of the window: the account chosen, to the receiver's recipient.
      const receiverRecipient = JSON.parse(receiver(['--json', 'identity', 'show'])).Recipient;
      await click('#nav-accounts');
      await setField('account-search', 'Handed-in');
      await browser.waitUntil(async () => browser.execute(() => [...document.querySelectorAll('#account-list li')].some((li) => li.textContent.startsWith('Handed-in Customer'))),
        { timeout: 10_000, timeoutMsg: 'the imported account is not listed' });
      await browser.execute(() => [...document.querySelectorAll('#account-list li')].find((li) => li.textContent.startsWith('Handed-in Customer')).click());
      await waitText('account-title', (t) => t.startsWith('Handed-in Customer'), 'the account did not open');
      await click('#add-to-handover');
      await waitText('handover-accounts', (t) => t.includes('Handed-in Customer'), 'the account is not in the hand-over');
      const outFile = path.join(dirs, 'out.age');
      await setField('handover-to', receiverRecipient);
      await setField('handover-path', outFile);
      await submit('export-form');
      await toastSays('Bundle written');
      await waitText('export-result', (t) => t.includes('1 account,') && t.includes('1 account connector'), 'the export does not say what it wrote');
      await shot('handover-export');
      const imported = JSON.parse(receiver(['--json', 'import', outFile]));
      const ac = imported.AccountConnectors.find((a) => a.Name === 'Handed-in key');
      assert(ac && ac.Outcome === 'added', `the receiver's import: ${JSON.stringify(imported)}`);
      const got = JSON.parse(receiver(['--json', 'inspect', ac.Id, '--reveal']));
      assert(got.Secrets[0].Value === 'handed-in-key-5c4b3a', 'the receiver did not get the key');
      await setField('account-search', '');
    } finally {
      fs.rmSync(dirs, { recursive: true, force: true });
    }
  });

  await check('Copy setup link: the customer opens it (a GET spends nothing), presses the button and types a new key, sealed on submit; the link then answers 410', async () => {
    await openByName('Handed-in key');
    // What the button puts on the clipboard, kept for the test.
    await browser.execute(() => {
      window.__copied = null;
      navigator.clipboard.writeText = async (t) => { window.__copied = t; };
    });
    await click('#copy-setup-link');
    await toastSays('Setup link copied');
    const url = await browser.execute(() => window.__copied);
    assert(/^http:\/\/127\.0\.0\.1:\d+\/setup\/stl_/.test(url || ''), `copied: ${url}`);
    // The customer's browser, by hand: the page (twice, as a scanner would), the button, the form.
    for (let i = 0; i < 2; i++) assert((await fetch(url)).status === 200, 'the link page did not open');
    const shown = await fetch(url);
    const page = await shown.text();
    assert(page.includes('Handed-in Customer') && page.includes('Generic API Key'), `page: ${page.slice(0, 300)}`);
    const cookie = shown.headers.get('set-cookie').split(';')[0];
    const csrf = page.match(/name=csrf value="([^"]+)"/)[1];
    const form = { 'content-type': 'application/x-www-form-urlencoded', cookie };
    const pressed = await fetch(url, { method: 'POST', headers: form, body: new URLSearchParams({ csrf }) });
    assert(pressed.status === 200 && (await pressed.text()).includes('name="api_key"'), 'no form for the key');
    const done = await fetch(`${url}/credentials`, { method: 'POST', headers: form, body: new URLSearchParams({ csrf, api_key: 'key-typed-by-the-customer-77' }) });
    const said = await done.text();
    assert(done.status === 200 && said.includes('Connected') && !said.includes('key-typed-by'), `after submit: ${done.status} ${said.slice(0, 300)}`);
    const id = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Handed-in key']))[0].Id;
    const seen = JSON.parse(cli(['--json', 'inspect', String(id), '--reveal']));
    assert(seen.Secrets[0].Value === 'key-typed-by-the-customer-77', 'the typed key was not stored');
    assert((await fetch(url)).status === 410, 'the used link still opens');
    const links = JSON.parse(cli(['--json', 'links', 'list', String(id)]));
    assert(links[0].Status === 'used', `links: ${JSON.stringify(links)}`);
  });

  await check('webhooks in Settings: an endpoint added with the form (its secret shown once) receives a signed event the window delivers; the attempt is listed', async () => {
    await click('#nav-settings');
    await waitText('webhooks', (t) => t.includes('No endpoints yet'), 'the webhooks list is not shown');
    // Settings has finished reading (the recipient comes last).
    await waitText('handover-recipient', (t) => t.startsWith('age1'), 'Settings did not finish loading');
    await setField('webhook-url', `${hooks}/hook`);
    await browser.execute(() => { document.getElementById('webhook-loopback').checked = true; document.getElementById('webhook-event-authenticated').checked = true; });
    await submit('webhook-form');
    await toastSays('Webhook endpoint added');
    const secret = await text('new-webhook-secret');
    assert(secret.startsWith('whsec_'), `secret: ${secret}`);
    await waitText('webhooks', (t) => t.includes(`${hooks}/hook`) && t.includes('authenticated'), 'the endpoint is not listed');
    await fetch(`${hooks}/__secret`, { method: 'POST', body: secret });
    const id = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Handed-in key']))[0].Id;
    cli(['account-connectors', 'set-authvalue', String(id), '--stdin'], 'key-for-the-webhook-555');
    let seen;
    await browser.waitUntil(async () => {
      seen = await (await fetch(`${hooks}/__received`)).json();
      return seen.received.length > 0;
    }, { timeout: 20_000, timeoutMsg: 'the window delivered no webhook' });
    assert(seen.refused === 0, `signatures refused: ${seen.refused}`);
    const event = seen.received[0].event;
    assert(event.type === 'account_connector.authenticated' && event.data.AccountConnectorId === id, JSON.stringify(event));
    assert(!JSON.stringify(seen).includes('key-for-the-webhook'), 'the key went out in the event');
    await click('#nav-accounts');
    await click('#nav-settings');
    await waitText('webhook-deliveries', (t) => t.includes('HTTP 204'), 'the delivery is not listed');
    assert(!(await text('webhooks')).includes(secret), 'the secret is shown again');
    await shot('webhooks');
  });

  await check('agents: an MCP server\'s tools run in the method tester; a change an agent asks for at the local API\'s /mcp waits for Allow once or Deny in the window, and the history names the agent', async () => {
    const added = JSON.parse(cli(['--json', 'connectors', 'add-mcp', `${mcp}/open/mcp`, '--name', 'Open MCP', '--id', 'open-mcp']));
    assert(added.Auth === 'None' && added.McpUrl === `${mcp}/open/mcp`, JSON.stringify(added));
    const account = JSON.parse(cli(['--json', 'accounts', 'create', '--name', 'Agents Co'])).Id;
    cli(['account-connectors', 'install', account, 'open-mcp', '--name', 'Open tools']);
    await openByName('Open tools');
    await tab('tester');
    await browser.waitUntil(() => browser.execute(() => [...document.querySelectorAll('#tester-method option')]
      .some((o) => o.textContent === 'add — MCP tool')), { timeout: 20_000, timeoutMsg: 'the tester does not list the server\'s tools' });
    await (await byId('tester-method')).selectByAttribute('value', 'add');
    await setField('param-a', '2');
    await setField('param-b', '40');
    await click('#run-method');
    await waitText('tester-result', (t) => t.trim() === '42', 'the tool did not run');
    await shot('mcp-tester');

    // An agent (the official SDK) at the window's own API: a method that changes data.
    const def = path.join(os.tmpdir(), `agent-wire-${process.pid}.toml`);
    fs.writeFileSync(def, ['id = "agent-wire"', 'name = "Agent wire"', 'version = "1"', `api_base_url = "${mcp}"`,
      '[auth]', 'type = "api_key"', 'placement = "header"', 'name = "X-Api-Key"',
      '[[methods]]', 'id = "create_note"', 'name = "Create a note"', 'http_method = "POST"', 'path = "/not-mcp"', ''].join('\n'));
    cli(['connectors', 'add', def]);
    const wire = JSON.parse(cli(['--json', 'account-connectors', 'install', account, 'agent-wire', '--name', 'Wire for agents'])).Id;
    cli(['account-connectors', 'set-authvalue', String(wire), '--stdin'], 'agent-canary-key-0912');
    const api = new URL(JSON.parse(cli(['--json', 'links', 'create', String(wire)])).Url).origin;
    const key = cli(['api-key']).trim();
    const agent = () => new Promise((resolve, reject) => {
      const plan = JSON.stringify({ calls: [{ name: 'agent_wire_agents_co__create_note', arguments: {} }] });
      const child = spawn(process.execPath, [path.join(ROOT, 'tests', 'mcp', 'client.mjs'), 'http', `${api}/mcp`, plan],
        { env: { ...env, MCP_BEARER: key }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (c) => { out += c; });
      child.on('error', reject);
      child.on('close', () => { try { resolve(JSON.parse(out)); } catch (e) { reject(new Error(`client.mjs: ${out}`)); } });
    });
    const dialogSays = async () => {
      await browser.waitUntil(() => browser.execute(() => document.getElementById('agent-approval').open),
        { timeout: 20_000, timeoutMsg: 'the window did not ask' });
      return text('agent-approval-text');
    };
    const allowed = agent();
    const asked = await dialogSays();
    assert(asked.includes('sdk-test-agent') && asked.includes('Agents Co') && asked.includes('Agent wire'), `asked: ${asked}`);
    assert((await text('agent-approval-request')) === 'POST /not-mcp', 'the request is not shown');
    await shot('agent-approval');
    await click('#agent-allow-once');
    const ran = await allowed;
    assert(ran.calls[0].ok && ran.calls[0].result.isError === false, JSON.stringify(ran));
    assert(!JSON.stringify(ran).includes('agent-canary-key'), 'the key reached the agent');
    const refused = agent();
    await dialogSays();
    await click('#agent-deny');
    const denied = await refused;
    assert(denied.calls[0].result.isError === true, JSON.stringify(denied));
    const history = cli(['--json', 'history', String(wire)]);
    assert(history.includes('sdk-test-agent') && history.includes('allowed once by the user') && history.includes('denied by the user'), history);
    assert(!(await browser.execute(() => document.getElementById('agent-approval').open)), 'the dialog stayed open');
  });

  // The data key's keychain item, as `secret-tool` (libsecret) names it.
  const vault = JSON.parse(cli(['--json', 'vault', 'status']));
  const item = ['service', 'authdesk', 'username', `data-key/${vault.VaultId}`];
  const keychainHas = () => { try { return execFileSync('secret-tool', ['lookup', ...item], { env }).length > 0; } catch { return false; } };

  await check('the keychain item removed while the app runs shows at once, with what to do; Restore puts the key back', async () => {
    assert(keychainHas(), 'no keychain item to remove');
    execFileSync('secret-tool', ['clear', ...item], { env });
    assert(!keychainHas(), 'secret-tool did not remove the item');
    await click('#nav-accounts');
    await click('#nav-settings');
    await waitText('vault-health', (t) => t.includes('still open until it stops') && t.includes('Restore the keychain item'), 'Settings does not see the missing item');
    await waitText('vault-banner', (t) => t.includes('cannot be opened after a restart'), 'the header does not show the problem');
    await shot('keychain-item-missing');
    await click('#vault-health button');
    await toastSays('back in the keychain');
    await waitText('vault-health', (t) => t.startsWith('OK'), 'the health line is not OK after Restore');
    assert(keychainHas(), 'Restore did not write the keychain item');
    await browser.waitUntil(async () => browser.execute(() => document.getElementById('vault-banner').hidden), { timeout: 10_000, timeoutMsg: 'the banner stayed' });
  });

  await check('started again without its keychain item: the window says secrets cannot be opened; Delete asks first that tokens cannot be revoked, then deletes and says so', async () => {
    execFileSync('secret-tool', ['clear', ...item], { env });
    // The old window quits before the new one starts (else the new one finds it still on
    // D-Bus, a single instance that no longer answers).
    await browser.deleteSession();
    const running = () => { try { execFileSync('pgrep', ['-x', 'authdesk-app']); return true; } catch { return false; } };
    for (let i = 0; i < 100 && running(); i++) await new Promise((r) => setTimeout(r, 100));
    assert(!running(), 'the first window did not quit');
    await browser.reloadSession();
    await browser.waitUntil(async () => (await browser.execute(() => document.body.dataset.ready)) === 'true', {
      timeout: 20_000, timeoutMsg: 'the restarted window never finished loading',
    });
    await waitText('vault-banner', (t) => t.includes('Secrets cannot be opened'), 'no banner without the key');
    assert(!(await browser.execute(() => document.getElementById('vault-banner-restore').hidden === false)), 'Restore offered without a key in memory');
    await openByName('Customer B provider');
    await clickTwice('delete-ac', 'cannot be revoked at the provider');
    await toastSays('Deleted Customer B provider.');
    const said = await text('toast');
    assert(said.includes('not revoked at the provider') && !/failed/i.test(said), `the report: ${said}`);
    const left = JSON.parse(cli(['--json', 'account-connectors', 'list', '--search', 'Customer B provider']));
    assert(left.length === 0, 'the account connector is still there');
    await shot('deleted-without-key');
  });
}

async function run() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'authdesk-desktop-'));
  const env = {
    ...process.env,
    AUTHDESK_DATA_DIR: path.join(tmp, 'data'),
    AUTHDESK_LISTEN: '127.0.0.1:0',
    AUTHDESK_LOG: 'info',
  };
  let browser;
  try {
    const [, issuer] = await start('oidc', process.execPath, [path.join(ROOT, 'tests', 'oidc', 'server.mjs')],
      { ...env, PORT: '0', ACCESS_TTL: '3600', EXIT_WITH_STDIN: '1' }, /listening (http:\/\/127\.0\.0\.1:\d+)/);
    // The OAuth 1.0a provider on oauthlib (tests/oauth1), in the test virtualenv.
    const [, oauth1] = await start('oauth1', path.join(ROOT, 'tests', 'dot', '.venv', 'bin', 'python'),
      [path.join(ROOT, 'tests', 'oauth1', 'server.py')], { ...env, PORT: '0', EXIT_WITH_STDIN: '1' },
      /listening (http:\/\/127\.0\.0\.1:\d+)/);
    // A webhook receiver that verifies signatures with the Standard Webhooks library.
    const [, hooks] = await start('webhooks', process.execPath, [path.join(ROOT, 'tests', 'webhooks', 'receiver.mjs')],
      { ...env, PORT: '0', EXIT_WITH_STDIN: '1' }, /listening (http:\/\/127\.0\.0\.1:\d+)/);
    // MCP servers of the official SDK (tests/mcp), one of them open, one upstream that
    // answers anything (/not-mcp) for a method that changes data.
    const [, mcp] = await start('mcp', process.execPath, [path.join(ROOT, 'tests', 'mcp', 'server.mjs')],
      { ...env, PORT: '0', EXIT_WITH_STDIN: '1' }, /listening (http:\/\/127\.0\.0\.1:\d+)/);
    const cli = (args, input) => execFileSync(BIN, args, { env, input, encoding: 'utf8' });
    await check('the CLI prepares the test provider (webview sign-in) and its OAuth app', async () => {
      const def = path.join(tmp, 'test-provider.toml');
      const template = fs.readFileSync(path.join(ROOT, 'tests', 'oidc', 'test-provider.toml'), 'utf8');
      fs.writeFileSync(def, template.replaceAll('@ISSUER@', issuer).replace('sign_in = "system_browser"', 'sign_in = "webview"'));
      cli(['connectors', 'add', def]);
      cli(['connectors', 'set-client', 'test-provider', '--client-id', 'authdesk-native', '--client-secret-stdin'], 'authdesk-native-secret');
      // A Basic connector whose method is the server's own token endpoint: oidc-provider
      // checks the HTTP Basic credentials (client_secret_basic) and answers 200 or 401.
      const basic = path.join(tmp, 'test-basic.toml');
      fs.writeFileSync(basic, [
        'id = "test-basic"', 'name = "Test token endpoint (Basic)"', 'version = "1"', `api_base_url = "${issuer}"`,
        '[auth]', 'type = "basic"',
        '[[methods]]', 'id = "client-token"', 'name = "Client credentials token"', 'http_method = "POST"', 'path = "/token"', 'body_format = "form"',
        '[[methods.parameters]]', 'name = "grant_type"', 'in = "body"', 'required = true',
        '[[methods.parameters]]', 'name = "scope"', 'in = "body"',
        '[[methods]]', 'id = "introspect"', 'name = "Token introspection"', 'http_method = "POST"', 'path = "/token/introspection"', 'body_format = "form"',
        '[[methods.parameters]]', 'name = "token"', 'in = "body"', 'required = true', '',
      ].join('\n'));
      cli(['connectors', 'add', basic]);
      // An AuthFields connector (Cyclr's type) whose secret header field carries the
      // client's Basic credentials to the same token endpoint, with a plain field beside it.
      const fields = path.join(tmp, 'test-fields.toml');
      fs.writeFileSync(fields, [
        'id = "test-fields"', 'name = "Test token endpoint (AuthFields)"', 'version = "1"', `api_base_url = "${issuer}"`,
        '[auth]', 'type = "auth_fields"',
        '[[auth.fields]]', 'name = "Authorization"', 'placement = "header"', 'description = "Basic and the client credentials"',
        '[[auth.fields]]', 'name = "X-Customer"', 'placement = "header"', 'secret = false', 'description = "The customer\'s name"',
        '[[methods]]', 'id = "client-token"', 'name = "Client credentials token"', 'http_method = "POST"', 'path = "/token"', 'body_format = "form"',
        '[[methods.parameters]]', 'name = "grant_type"', 'in = "body"', 'required = true', '',
      ].join('\n'));
      cli(['connectors', 'add', fields]);
      // An app that authenticates with a private key (private_key_jwt), client credentials.
      const signed = path.join(tmp, 'test-signed.toml');
      fs.writeFileSync(signed, [
        'id = "test-signed"', 'name = "Test signed client"', 'version = "1"', `api_base_url = "${issuer}"`,
        '[auth]', 'type = "oauth2"', 'grant = "client_credentials"', `token_url = "${issuer}/token"`,
        'client_auth = "private_key_jwt"', 'scopes = ["api:read"]', '',
      ].join('\n'));
      cli(['connectors', 'add', signed]);
      // A device sign-in connector (RFC 8628) with the server's public device client.
      const device = path.join(tmp, 'test-device.toml');
      fs.writeFileSync(device, [
        'id = "test-device"', 'name = "Test device sign-in"', 'version = "1"', `api_base_url = "${issuer}"`,
        '[auth]', 'type = "oauth2"', 'grant = "device_code"', `token_url = "${issuer}/token"`,
        `device_authorization_url = "${issuer}/device/auth"`, 'client_auth = "none"', 'scopes = ["openid", "offline_access"]', '',
      ].join('\n'));
      cli(['connectors', 'add', device]);
      cli(['connectors', 'set-client', 'test-device', '--client-id', 'authdesk-device', '--public']);
      // An OAuth 1.0a connector (Trello's shape) at the oauthlib provider, HMAC-SHA1.
      const o1 = path.join(tmp, 'test-oauth1.toml');
      fs.writeFileSync(o1, [
        'id = "test-oauth1"', 'name = "Test OAuth 1.0a"', 'version = "1"', `api_base_url = "${oauth1}/1"`,
        '[auth]', 'type = "oauth1"', `request_token_url = "${oauth1}/oauth/request_token"`,
        `authorize_url = "${oauth1}/oauth/authorize"`, `access_token_url = "${oauth1}/oauth/access_token"`,
        '[[methods]]', 'id = "me"', 'name = "Me"', 'http_method = "GET"', 'path = "/members/me"', '',
      ].join('\n'));
      cli(['connectors', 'add', o1]);
      cli(['connectors', 'set-client', 'test-oauth1', '--client-id', 'consumer-hmac', '--client-secret-stdin'], 'consumer-hmac-secret');
    });
    const port = await freePort();
    const driver = spawn(DRIVER, ['--port', String(port), '--native-port', String(await freePort())], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(driver);
    driver.stderr.on('data', (c) => logs.push(`tauri-driver: ${c.toString().trim()}`.slice(0, 400)));
    driver.stdout.on('data', (c) => logs.push(`app: ${c.toString().trim()}`.slice(0, 400)));
    await check('tauri-driver answers', async () => {
      for (let i = 0; i < 100; i++) {
        if (await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.ok, () => false)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`tauri-driver (${DRIVER}) did not answer on port ${port}`);
    });
    browser = await remote({
      hostname: '127.0.0.1', port, logLevel: 'error', connectionRetryTimeout: 60_000,
      capabilities: { 'tauri:options': { application: APP } },
    });
    await main(browser, env, issuer, cli, oauth1, hooks, mcp);
  } finally {
    if (browser) await browser.deleteSession().catch(() => {});
    for (const c of children.reverse()) c.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const timer = setTimeout(() => { console.log('not ok - the run took longer than 360 s'); process.exit(1); }, TIMEOUT);
try {
  await run();
} catch (e) {
  if (failed === 0) {
    failed += 1;
    console.log(`not ok - ${e?.message ?? e}`);
  }
  console.log(`#   recent output:\n#     ${logs.slice(-25).join('\n#     ')}`);
}
clearTimeout(timer);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
