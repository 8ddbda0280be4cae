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

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP = process.env.AUTHDESK_APP || path.join(ROOT, 'target', 'debug', 'authdesk-app');
const BIN = process.env.AUTHDESK_BIN || path.join(ROOT, 'target', 'debug', 'authdesk');
const DRIVER = process.env.TAURI_DRIVER || 'tauri-driver';
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const TIMEOUT = 180_000;

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

async function main(browser, env, issuer) {
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

  await check('the main window shows the UI', async () => {
    await browser.waitUntil(async () => (await browser.execute(() => document.body.dataset.ready)) === 'true', {
      timeout: 20_000, timeoutMsg: 'the UI never finished loading',
    });
  });

  const createAndInstall = async (accountName) => {
    await (await byId('new-account-name')).setValue(accountName);
    await (await byId('create-account')).click();
    await toastSays(`Account ${accountName} created.`);
    await (await byId('install-connector')).selectByAttribute('value', 'test-provider');
    await (await byId('install-name')).setValue(`${accountName} provider`);
    await (await byId('install-button')).click();
    await toastSays('installed');
    await waitText('ac-title', (t) => t.startsWith(`${accountName} provider`), 'the account connector did not open');
  };

  /** Clicks Connect and returns the handle of the sign-in window. */
  const openSignIn = async () => {
    await (await byId('connect')).click();
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

  await check('Connect opens the provider in a sign-in window; login and consent there; the window closes', async () => {
    const auth = await openSignIn();
    await browser.switchToWindow(auth);
    await loginForm();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await (await browser.$('input[name=login]')).setValue('dora');
    await (await browser.$('input[name=password]')).setValue('anything');
    const loginUrl = await browser.getUrl();
    await (await browser.$('button[type=submit]')).click();
    await browser.waitUntil(async () => (await browser.getUrl().catch(() => loginUrl)) !== loginUrl, { timeout: 20_000 });
    await browser.waitUntil(async () => /continue/i.test(await browser.$('button[type=submit]').getText().catch(() => '')), {
      timeout: 20_000, timeoutMsg: 'no consent page',
    });
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-consent.png'));
    await (await browser.$('button[type=submit]')).click();
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 1, {
      timeout: 20_000, timeoutMsg: 'the sign-in window did not close',
    });
    await browser.switchToWindow(main);
  });

  await check('the inspector shows Authenticated with an expiry', async () => {
    await toastSays('Signed in.');
    await waitText('inspect-status', (t) => t.includes('Authenticated') && !t.includes('Not'), 'not authenticated');
    await waitText('inspect-expires', (t) => t.includes('(in '), 'no expiry countdown');
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-inspector.png'));
  });

  await check('the method tester runs userinfo and shows the provider\'s answer', async () => {
    await (await byId('tester-method')).selectByAttribute('value', 'userinfo');
    await (await byId('run-method')).click();
    await waitText('tester-result', (t) => t.startsWith('HTTP 200') && t.includes('dora@example.com'), 'no userinfo');
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-method-tester.png'));
  });

  await check('Refresh now gets a new token and the history shows it', async () => {
    await (await byId('refresh-now')).click();
    await toastSays('Refreshed.');
    await waitText('history', (t) => t.includes('refreshed'), 'no refresh in the history');
  });

  await check('Disconnect revokes and forgets the credential', async () => {
    await (await byId('disconnect')).click(); // arms
    await (await byId('disconnect')).click(); // confirms
    await toastSays('Disconnected.');
    await waitText('inspect-status', (t) => t.includes('Not authenticated'), 'still authenticated');
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

  await check('a second Connect (another customer) while a sign-in is open opens no second window and says one is in progress', async () => {
    await browser.switchToWindow(main);
    // Rows are clicked from the page: the sign-in window may overlap the main one (no
    // window manager under Xvfb), which WebKitWebDriver reports as "not interactable".
    const selectRow = async (account, connector) => {
      await browser.execute((name) => [...document.querySelectorAll('#account-list li')]
        .find((li) => li.textContent.startsWith(name)).click(), account);
      await browser.waitUntil(async () => browser.execute((name) => [...document.querySelectorAll('#ac-table tr')]
        .some((tr) => tr.textContent.includes(name)), connector), { timeout: 10_000, timeoutMsg: `no row ${connector}` });
      await browser.execute((name) => [...document.querySelectorAll('#ac-table tr')]
        .find((tr) => tr.textContent.includes(name)).click(), connector);
      await waitText('ac-title', (t) => t.startsWith(connector), `${connector} did not open`);
    };
    await selectRow('Customer A', 'Customer A provider');
    await browser.execute(() => document.getElementById('connect').click());
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
    await (await byId('cancel-sign-in')).click();
    await toastSays('The sign-in window was closed; nothing was changed.');
    await browser.waitUntil(async () => (await browser.getWindowHandles()).length === 1, {
      timeout: 10_000, timeoutMsg: 'the sign-in window is still open',
    });
    await waitText('inspect-status', (t) => t.includes('Not authenticated'), 'status changed');
  });

  await check('the account search narrows the list; Find locates an account connector across accounts by name and status', async () => {
    await browser.switchToWindow(main);
    const setField = (id, value) => browser.execute((i, v) => {
      const e = document.getElementById(i);
      e.value = v;
      e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input'));
    }, id, value);
    const accounts = () => browser.execute(() => [...document.querySelectorAll('#account-list li')].map((li) => li.textContent).join('|'));
    await setField('account-search', 'customer b');
    await browser.waitUntil(async () => { const t = await accounts(); return t.startsWith('Customer B') && !t.includes('Customer A'); },
      { timeout: 10_000, timeoutMsg: 'the account list was not narrowed' });
    await setField('account-search', '');
    await browser.waitUntil(async () => (await accounts()).includes('Customer A'), { timeout: 10_000, timeoutMsg: 'the full list did not come back' });
    await browser.execute(() => document.getElementById('nav-find').click());
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
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-find.png'));
    await browser.execute(() => document.querySelector('#find-table tbody tr').click());
    await waitText('ac-title', (t) => t.startsWith('Customer A provider'), 'the found account connector did not open');
    assert(await (await byId('view-accounts')).isDisplayed(), 'the accounts view is not shown');
  });

  await check('screenshots of the library and settings', async () => {
    await (await byId('nav-library')).click();
    assert(await (await byId('view-library')).isDisplayed(), 'the library is not shown');
    assert(!(await (await byId('view-accounts')).isDisplayed()), 'the accounts view is still shown');
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-library.png'));
    await (await byId('nav-settings')).click();
    assert(!(await (await byId('view-library')).isDisplayed()), 'the library is still shown');
    await waitText('callback-uri', (t) => t.includes('/connector/callback'), 'no redirect URI shown');
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-settings.png'));
  });

  await check('Settings creates an API client whose credentials get a token at /oauth/token; revoking it ends that', async () => {
    await (await byId('api-client-name')).setValue('Partner backend');
    await browser.execute(() => document.querySelector('#api-client-form button[type=submit]').click());
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
    await browser.saveScreenshot(path.join(ARTIFACTS, 'desktop-api-clients.png'));
    const revoke = () => browser.execute((id) => document.querySelector(`#api-clients li[data-id="${id}"] button`).click(), clientId);
    await revoke(); // arms
    await revoke(); // confirms
    await toastSays('revoked');
    assert((await token()).status === 401, 'a revoked client still gets tokens');
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
    const cli = (args, input) => execFileSync(BIN, args, { env, input, encoding: 'utf8' });
    await check('the CLI prepares the test provider (webview sign-in) and its OAuth app', async () => {
      const def = path.join(tmp, 'test-provider.toml');
      const template = fs.readFileSync(path.join(ROOT, 'tests', 'oidc', 'test-provider.toml'), 'utf8');
      fs.writeFileSync(def, template.replaceAll('@ISSUER@', issuer).replace('sign_in = "system_browser"', 'sign_in = "webview"'));
      cli(['connectors', 'add', def]);
      cli(['connectors', 'set-client', 'test-provider', '--client-id', 'authdesk-native', '--client-secret-stdin'], 'authdesk-native-secret');
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
    await main(browser, env, issuer);
  } finally {
    if (browser) await browser.deleteSession().catch(() => {});
    for (const c of children.reverse()) c.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const timer = setTimeout(() => { console.log('not ok - the run took longer than 180 s'); process.exit(1); }, TIMEOUT);
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
