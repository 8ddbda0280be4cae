// End-to-end test of Cyclr's browser sign-in flow in a real browser: Debian's chromium
// driven by playwright-core, against the real `authdesk` binary (CLI + `authdesk serve`),
// the test authorization server (tests/oidc, panva's oidc-provider) and a partner site
// served here on another origin.
//
//   node tests/e2e/browser-flow.mjs     (inside a D-Bus session with an unlocked keyring;
//                                        see tests/e2e/README.md)
//
// Environment: AUTHDESK_BIN (default <repo>/target/debug/authdesk), CHROMIUM
// (default /usr/bin/chromium). Screenshots go to <repo>/tests/artifacts/.
// Prints `ok - <check>` / `not ok - <check>: <why>` and one closing line
// `N passed, M failed`; exits 1 on any failure. Gives up after 120 s.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.AUTHDESK_BIN || path.join(ROOT, 'target', 'debug', 'authdesk');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const ARTIFACTS = path.join(ROOT, 'tests', 'artifacts');
const OVERALL_TIMEOUT_MS = 120_000;
const STEP_TIMEOUT_MS = 30_000;

// Hostile on purpose: quotes, a closing </script>, an alert. It must arrive as inert data, exactly.
const MSG = `authdesk-done "quoted" </script><script>alert(1)</script> 'x'`;
const USERNAME = 'partner-user';
const LOGIN = 'frank';

// ---- reporting -------------------------------------------------------------------------
let passed = 0;
let failed = 0;
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;

class Fatal extends Error {}
let aborted = false; // set by the overall timeout: nothing more is run or reported

/** Runs one named check; a failure is reported and, unless `fatal: false`, stops the run. */
async function check(name, fn, { fatal = true } = {}) {
  if (aborted) throw new Fatal(name);
  try {
    const result = await fn();
    if (aborted) throw new Fatal(name);
    passed += 1;
    console.log(`ok - ${name}`);
    return result;
  } catch (e) {
    if (aborted) throw new Fatal(name);
    failed += 1;
    console.log(`not ok - ${name}: ${e?.message ?? e}`.split('\n').join('\n#   '));
    if (fatal) throw new Fatal(name);
    return undefined;
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

// ---- child processes -------------------------------------------------------------------
const children = [];
const logs = new Map(); // name -> recent output lines, shown when something fails
const partial = new Map(); // name -> the unfinished last line

function remember(name, chunk) {
  const parts = ((partial.get(name) ?? '') + chunk.toString()).split('\n');
  partial.set(name, parts.pop());
  logs.set(name, [...(logs.get(name) ?? []), ...parts.filter(Boolean)].slice(-40));
}

/** Spawns a long-running child and resolves with the first line of `stream` matching `re`. */
function start(name, command, args, { env, stream, re, stdin = 'ignore' }) {
  const child = spawn(command, args, { env, stdio: [stdin, 'pipe', 'pipe'] });
  children.push({ name, child });
  return new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 20 s`)), 20_000);
    const onData = (which) => (chunk) => {
      remember(name, chunk);
      if (which !== stream) return;
      pending += chunk.toString();
      const m = pending.match(re);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout.on('data', onData('stdout'));
    child.stderr.on('data', onData('stderr'));
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited early (${signal ?? code}): ${(logs.get(name) ?? []).join(' | ')}`));
    });
  });
}

async function stopChildren() {
  for (const { child } of children.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.stdin?.end();
    child.kill('SIGTERM');
    const exited = once(child, 'exit');
    const timeout = new Promise((r) => setTimeout(r, 3000));
    if ((await Promise.race([exited.then(() => 'exited'), timeout])) !== 'exited') child.kill('SIGKILL');
  }
}

// ---- the partner site ------------------------------------------------------------------
// A web application on its own origin that lets its user connect an account connector:
// its server asks Authdesk for a sign-in token (with the API key, which never reaches the
// browser); its page opens the sign-in popup and listens for the message.
const PARTNER_HTML = `<!doctype html>
<html lang="en"><meta charset="utf-8"><title>Partner app</title>
<body>
<h1>Partner app</h1>
<p><button id="connect">Connect Test provider</button></p>
<p>Message received: <code id="result"></code></p>
<p id="error"></p>
<script src="/app.js"></script>
</body></html>`;

const appJs = (config) => `'use strict';
const CONFIG = ${JSON.stringify(config)};
document.getElementById('connect').addEventListener('click', async () => {
  try {
    const r = await fetch('/token', { method: 'POST' });
    if (!r.ok) throw new Error('token: HTTP ' + r.status);
    const { Token } = await r.json();
    const q = new URLSearchParams({
      id: String(CONFIG.id),
      token: Token,
      targetOrigin: CONFIG.partner + '/',
      callbackMessage: CONFIG.message,
    });
    const popup = window.open(CONFIG.api + '/connectorauth/updateaccountconnectoroauth?' + q, 'authdesk-signin', 'popup,width=600,height=700');
    if (!popup) throw new Error('the popup was blocked');
  } catch (e) {
    document.getElementById('error').textContent = String(e);
  }
});
window.addEventListener('message', (e) => {
  document.getElementById('result').textContent = JSON.stringify({ origin: e.origin, data: e.data });
});
`;

function startPartner(state) {
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (status, type, body) => {
      res.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        // No inline script may run on the partner page either.
        'content-security-policy': "default-src 'self'; base-uri 'none'; form-action 'none'",
      });
      res.end(body);
    };
    try {
      if (req.method === 'GET' && url.pathname === '/') return send(200, 'text/html; charset=utf-8', PARTNER_HTML);
      if (req.method === 'GET' && url.pathname === '/app.js') {
        return send(200, 'text/javascript; charset=utf-8', appJs({
          api: state.api, id: state.connectorId, partner: state.partner, message: MSG,
        }));
      }
      if (req.method === 'GET' && url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
      if (req.method === 'GET' && url.pathname === '/landing') {
        return send(200, 'text/html; charset=utf-8', '<!doctype html><meta charset="utf-8"><title>Landing</title><p id="landed">landed</p>');
      }
      if (req.method === 'POST' && url.pathname === '/token') {
        const token = await signInToken(state);
        return send(200, 'application/json', JSON.stringify({ Token: token }));
      }
      return send(404, 'text/plain', 'not found');
    } catch (e) {
      return send(500, 'text/plain', String(e));
    }
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

// ---- the API ---------------------------------------------------------------------------
async function api(state, method, pathAndQuery, { body, account } = {}) {
  const headers = { authorization: `Bearer ${state.apiKey}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (account) headers['x-cyclr-account'] = account;
  const r = await fetch(state.api + pathAndQuery, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_TIMEOUT_MS),
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text };
}

async function signInToken(state) {
  const r = await api(state, 'POST', `/v1.0/accounts/${state.account}/signintoken`, { body: { Username: USERNAME } });
  if (r.status !== 200 || typeof r.json?.Token !== 'string') {
    throw new Error(`signintoken: HTTP ${r.status} ${r.text}`);
  }
  return r.json.Token;
}

function connectorAuthUrl(state, token, targetOrigin, callbackMessage) {
  const q = new URLSearchParams({ id: String(state.connectorId), token, targetOrigin });
  if (callbackMessage !== undefined) q.set('callbackMessage', callbackMessage);
  return `${state.api}/connectorauth/updateaccountconnectoroauth?${q}`;
}

// ---- the browser -----------------------------------------------------------------------
const dialogs = [];
const external = new Set(); // hosts the pages tried to reach off this machine (all refused)
const isLoopback = (url) => /^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(url) || !/^(https?|wss?):/.test(url);
const pageErrors = [];

const watched = new WeakSet();

function watch(page, label) {
  watched.add(page);
  page.on('dialog', async (d) => {
    dialogs.push(`${label}: ${d.type()} ${JSON.stringify(d.message())}`);
    await d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => pageErrors.push(`${label}: ${e.message}`));
  page.on('console', (m) => {
    // Failed loads are reported with their URL by 'requestfailed' below.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      pageErrors.push(`${label} console: ${m.text()}`);
    }
  });
  page.on('requestfailed', (r) => {
    if (!isLoopback(r.url())) return; // counted in `external`
    pageErrors.push(`${label}: ${r.url()} failed: ${r.failure()?.errorText}`);
  });
}

/**
 * Walks the provider's devInteractions pages in `page` until it leaves the provider:
 * login (only when there is no session yet) then consent (always: prompt=consent).
 * Returns what it saw.
 */
async function passProvider(page, issuer, { onConsent } = {}) {
  const seen = { login: false, consent: false };
  // Authdesk sends the browser to the provider (or shows why it cannot: p#message).
  const refused = page.locator('p#message');
  await Promise.race([
    page.waitForURL((u) => u.href.startsWith(issuer), { waitUntil: 'commit' }),
    refused.waitFor({ state: 'attached' }),
  ]);
  if (!page.url().startsWith(issuer)) {
    throw new Error(`not sent to the provider: ${page.url()}: ${await refused.textContent().catch(() => '')}`);
  }
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (page.isClosed()) return seen;
    const login = page.locator('input[name=login]');
    const consent = page.locator('input[name=prompt][value=consent]');
    await Promise.race([
      login.waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS }),
      consent.waitFor({ state: 'attached', timeout: STEP_TIMEOUT_MS }),
      page.waitForURL((u) => !u.href.startsWith(issuer), { timeout: STEP_TIMEOUT_MS, waitUntil: 'commit' }),
      page.waitForEvent('close', { timeout: STEP_TIMEOUT_MS }),
    ]).catch(() => {});
    if (page.isClosed() || !page.url().startsWith(issuer)) return seen;
    if (await login.isVisible().catch(() => false)) {
      assert(!seen.login, 'the login form came back after signing in');
      seen.login = true;
      await login.fill(LOGIN);
      await page.locator('input[name=password]').fill('any-password');
      // The form posts to this interaction's URL; the provider answers with the next
      // interaction (another uid) or, with consent already given, a redirect away.
      const before = page.url();
      await page.locator('button[type=submit]').click({ noWaitAfter: true });
      await page.waitForURL((u) => u.href !== before, { waitUntil: 'domcontentloaded' });
      continue;
    }
    if ((await consent.count().catch(() => 0)) > 0) {
      assert(!seen.consent, 'the consent page came back after consenting');
      seen.consent = true;
      if (onConsent) await onConsent(page);
      await page.locator('button[type=submit]').click({ noWaitAfter: true });
      // The next page is either ours (callback) or, after a redirect, gone (popup closed).
      await page.waitForURL((u) => !u.href.startsWith(issuer), { timeout: STEP_TIMEOUT_MS, waitUntil: 'commit' })
        .catch(() => {});
      return seen;
    }
  }
  throw new Error(`still at the provider after ${STEP_TIMEOUT_MS / 1000} s: ${page.url()}`);
}

// ---- the test --------------------------------------------------------------------------
async function main(res) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) {
    if (/^e2e-.*\.png$/.test(f)) fs.rmSync(path.join(ARTIFACTS, f)); // this test's, from an earlier run
  }
  assert(fs.existsSync(BIN), `${BIN} is missing: build it with cargo build -p authdesk-cli (or set AUTHDESK_BIN)`);
  assert(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (or set CHROMIUM)`);
  res.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'authdesk-e2e-'));
  const env = { ...process.env, AUTHDESK_DATA_DIR: path.join(res.tmp, 'data') };
  delete env.AUTHDESK_VAULT_KEY_FILE; // the real keychain only
  const state = {};
  res.state = state;

  // 1. The authorization server.
  const issuer = await check('the test authorization server starts', async () => {
    const m = await start('oidc', process.execPath, [path.join(ROOT, 'tests', 'oidc', 'server.mjs')], {
      env: { ...env, PORT: '0', ACCESS_TTL: '3600', EXIT_WITH_STDIN: '1' },
      stream: 'stdout',
      re: /listening (http:\/\/127\.0\.0\.1:\d+)\n/,
      stdin: 'pipe', // kept open: the server exits when it closes
    });
    return m[1];
  });
  state.issuer = issuer;

  // 2. Authdesk set up with its CLI.
  const cli = (args, input) => execFileSync(BIN, args, {
    env, input, encoding: 'utf8', timeout: STEP_TIMEOUT_MS, stdio: ['pipe', 'pipe', 'pipe'],
  });
  await check('the CLI adds the connector, its client, an account, an install and an API key', async () => {
    const def = path.join(res.tmp, 'test-provider.toml');
    // The same definition the Rust tests use.
    const template = fs.readFileSync(path.join(ROOT, 'tests', 'oidc', 'test-provider.toml'), 'utf8');
    fs.writeFileSync(def, template.replaceAll('@ISSUER@', issuer));
    cli(['connectors', 'add', def]);
    cli(['connectors', 'set-client', 'test-provider', '--client-id', 'authdesk-native', '--client-secret-stdin'],
      'authdesk-native-secret');
    state.account = JSON.parse(cli(['--json', 'accounts', 'create', '--name', 'Partner'])).Id;
    assert(typeof state.account === 'string' && state.account, 'accounts create gave no Id');
    state.connectorId = JSON.parse(
      cli(['--json', 'account-connectors', 'install', state.account, 'test-provider', '--name', 't']),
    ).Id;
    assert(Number.isInteger(state.connectorId), 'account-connectors install gave no integer Id');
    state.apiKey = cli(['api-key']).trim();
    assert(state.apiKey.length >= 32, 'api-key printed no key');
  });

  // 3. The partner site, its origin allowed, and the API.
  await check('the partner site starts and its origin is allowed; authdesk serve starts', async () => {
    res.partnerServer = await startPartner(state);
    state.partner = `http://127.0.0.1:${res.partnerServer.address().port}`;
    cli(['origins', 'add', state.partner]);
    const m = await start('authdesk serve', BIN, ['serve', '--listen', '127.0.0.1:0'], {
      env,
      stream: 'stderr',
      re: /Authdesk API listening on (http:\/\/127\.0\.0\.1:\d+)\n/,
    });
    state.api = m[1];
    assert(state.api !== state.partner, 'the partner and the API must be different origins');
  });

  // 4. The browser.
  const browser = await check(`chromium starts (${CHROMIUM})`, async () => {
    res.browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      timeout: STEP_TIMEOUT_MS,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-quic',
        // Hermetic: no name resolves, so nothing leaves this machine. (oidc-provider's
        // devInteractions layout @imports a font from fonts.googleapis.com.)
        '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
      // The D-Bus session is the keyring's, for authdesk; kept from the browser, which
      // would otherwise start the accessibility bus and xdg-desktop-portal in it.
      env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DBUS_SESSION_BUS_ADDRESS')),
    });
    return res.browser;
  });
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  // Page-level handlers (watch) record and dismiss; this one covers a page before it is
  // watched (a popup's first moments), so that no dialog can stay open and block it.
  context.on('dialog', async (d) => {
    if (watched.has(d.page())) return;
    dialogs.push(`${d.page()?.url()}: ${d.type()} ${JSON.stringify(d.message())}`);
    await d.dismiss().catch(() => {});
  });
  context.on('request', (r) => { if (!isLoopback(r.url())) external.add(new URL(r.url()).host); });
  res.context = context;
  const page = await context.newPage();
  watch(page, 'partner page');
  res.pages = [page];

  // 5. postMessage mode, in a popup opened by the partner page.
  await page.goto(`${state.partner}/`);
  const popup = await check('clicking #connect opens the sign-in popup', async () => {
    const [p] = await Promise.all([page.waitForEvent('popup'), page.click('#connect')]);
    watch(p, 'popup');
    res.pages.push(p);
    return p;
  });
  const closed = popup.waitForEvent('close', { timeout: STEP_TIMEOUT_MS }).then(() => true, () => false);
  let openerAtProvider;
  await check('the popup passes the provider\'s login and consent pages', async () => {
    const s = await passProvider(popup, issuer, {
      onConsent: async (p) => {
        await p.screenshot({ path: path.join(ARTIFACTS, 'e2e-popup-consent.png') });
        openerAtProvider = await p.evaluate(() => window.opener !== null);
      },
    });
    assert(s.login, 'no login form was shown');
    assert(s.consent, 'no consent page was shown');
    return s;
  });
  await check('the popup keeps window.opener at the provider (no COOP severing it)',
    async () => assertEqual(openerAtProvider, true, 'window.opener !== null at the consent page'), { fatal: false });
  await check('the popup closes itself after posting the message', async () => {
    assert(await closed, `the popup is still open at ${popup.isClosed() ? '(closed)' : popup.url()}: ${
      popup.isClosed() ? '' : await popup.locator('body').innerText().catch(() => '')}`);
  });
  const result = await check('the partner page receives a message', async () => {
    await page.waitForFunction(() => document.getElementById('result').textContent.length > 0);
    return JSON.parse(await page.locator('#result').textContent());
  });
  await page.screenshot({ path: path.join(ARTIFACTS, 'e2e-partner-success.png') });
  await check('the message data is callbackMessage, exactly', async () => assertEqual(result.data, MSG, 'data'),
    { fatal: false });
  await check('the message comes from the API origin', async () => assertEqual(result.origin, state.api, 'origin'),
    { fatal: false });
  await check('the account connector is authenticated', async () => {
    const r = await api(state, 'GET', `/v1.0/account/connectors/${state.connectorId}`, { account: state.account });
    assertEqual(r.status, 200, `HTTP status (${r.text})`);
    assertEqual(r.json.Authenticated, true, 'Authenticated');
  }, { fatal: false });

  // 6. Redirect mode: back to the full targetOrigin URL.
  await check('redirect mode lands on exactly <partner>/landing', async () => {
    const token = await signInToken(state);
    const p = await context.newPage();
    watch(p, 'redirect page');
    res.pages.push(p);
    await p.goto(connectorAuthUrl(state, token, `${state.partner}/landing`), { waitUntil: 'commit' });
    const s = await passProvider(p, issuer);
    assert(s.consent, 'no consent page was shown (prompt=consent)');
    await p.waitForURL((u) => u.origin === state.partner, { waitUntil: 'load' });
    assertEqual(p.url(), `${state.partner}/landing`, 'final URL');
    assertEqual(await p.locator('#landed').textContent(), 'landed', 'landing page');
    console.log(`#   (the provider ${s.login ? 'asked for a login again' : 'skipped the login: session cookie'})`);
  });

  // 6b. The provider link handed to someone else (another browser, its own cookies) lands
  // nowhere: that browser has no binding cookie, so it gets a page and the partner nothing.
  await check('a provider link completed in another browser is refused and sent nowhere', async () => {
    const token = await signInToken(state);
    const started = await fetch(connectorAuthUrl(state, token, `${state.partner}/landing`), { redirect: 'manual' });
    const toProvider = started.headers.get('location');
    assert(toProvider && toProvider.startsWith(issuer), `Location: ${toProvider}`);
    const other = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    try {
      const p = await other.newPage();
      watch(p, 'other browser');
      await p.goto(toProvider, { waitUntil: 'commit' });
      await passProvider(p, issuer);
      await p.waitForURL((u) => u.origin === state.api, { waitUntil: 'load' }).catch(async (e) => {
        throw new Error(`${e.message}; the page is at ${p.url()}: ${await p.locator('body').innerText().catch(() => '')}`);
      });
      const text = await p.locator('body').innerText();
      assert(text.includes('started in another browser'), `page: ${text}`);
      assert(new URL(p.url()).pathname === '/connector/callback', `final URL ${p.url()}`);
    } finally {
      await other.close();
    }
  });

  // 7. A method call through the API with the token the browser flow obtained.
  await check('the userinfo method through the API answers 200 with the signed-in email', async () => {
    const r = await api(state, 'POST', `/v1.0/account/connectors/${state.connectorId}/methods/userinfo`,
      { body: {}, account: state.account });
    assertEqual(r.status, 200, `HTTP status (${r.text})`);
    assertEqual(r.json.Status, 200, 'Status');
    const email = r.json.Body?.email;
    assert(typeof email === 'string' && email.endsWith('@example.com'), `Body.email: ${JSON.stringify(email)}`);
  });

  // 8. A setup link (Cyclr's setup token, safe for mail scanners): prefetching GETs spend
  // nothing; the page's button signs in once; a second click and a second browser get 410.
  await check('a setup link survives three prefetching GETs, signs in once at the click, and refuses a second click and a second browser', async () => {
    const made = await api(state, 'POST', `/v1.0/account/connectors/${state.connectorId}/links`,
      { body: { ExpiresInSeconds: 600 }, account: state.account });
    assertEqual(made.status, 200, `links: ${made.text}`);
    const url = made.json.Url;
    assert(url.startsWith(`${state.api}/setup/`), `Url: ${url}`);
    for (let i = 1; i <= 3; i++) {
      const r = await fetch(url, { signal: AbortSignal.timeout(STEP_TIMEOUT_MS) });
      assertEqual(r.status, 200, `prefetch ${i}`);
    }
    const before = (await api(state, 'GET', `/v1.0/account/connectors/${state.connectorId}`, { account: state.account })).json;
    // Shown the page before the click: a second tab of the customer's browser, and a second browser.
    const tab = await context.newPage();
    watch(tab, 'setup link, second tab');
    res.pages.push(tab);
    await tab.goto(url, { waitUntil: 'load' });
    const other = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    try {
      const elsewhere = await other.newPage();
      watch(elsewhere, 'setup link, second browser');
      await elsewhere.goto(url, { waitUntil: 'load' });
      const p = await context.newPage();
      watch(p, 'setup link');
      res.pages.push(p);
      await p.goto(url, { waitUntil: 'load' });
      assert((await p.locator('body').innerText()).includes('Test provider'), 'the page does not name the connector');
      await p.locator('#connect').click({ noWaitAfter: true });
      await passProvider(p, issuer);
      await p.waitForURL((u) => u.origin === state.api && u.pathname === '/connector/callback', { waitUntil: 'load' });
      const text = await p.locator('body').innerText();
      assert(text.includes('Connected') && text.includes('close this page'), `page: ${text}`);
      await p.screenshot({ path: path.join(ARTIFACTS, 'e2e-setup-link.png') });
      const after = (await api(state, 'GET', `/v1.0/account/connectors/${state.connectorId}`, { account: state.account })).json;
      assert(after.Authenticated === true && after.AuthenticatedAt !== before.AuthenticatedAt,
        `not signed in again: ${before.AuthenticatedAt} -> ${after.AuthenticatedAt}`);
      for (const [pg, who] of [[tab, 'a second click'], [elsewhere, 'a second browser']]) {
        const [response] = await Promise.all([pg.waitForNavigation({ waitUntil: 'load' }), pg.locator('#connect').click()]);
        assertEqual(response?.status(), 410, `${who}: HTTP status`);
        const said = await pg.locator('body').innerText();
        assert(said.includes('new link'), `${who}: ${said}`);
      }
    } finally {
      await other.close();
    }
  });

  await check('no dialog (alert) ever opened', async () => assert(dialogs.length === 0, dialogs.join('; ')));
  if (pageErrors.length) console.log(`#   page errors (not failures): ${pageErrors.join(' | ')}`);
  if (external.size) console.log(`#   requests off this machine, refused: ${[...external].join(', ')}`);
}

const res = {};
const hardStop = setTimeout(() => {
  console.log(`not ok - cleanup did not finish: exiting`);
  process.exit(1);
}, OVERALL_TIMEOUT_MS + 15_000);
hardStop.unref();

try {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      aborted = true;
      reject(new Error(`the run took longer than ${OVERALL_TIMEOUT_MS / 1000} s`));
    }, OVERALL_TIMEOUT_MS);
  });
  await Promise.race([main(res), timeout]).finally(() => clearTimeout(timer));
} catch (e) {
  if (!(e instanceof Fatal)) {
    failed += 1;
    console.log(`not ok - ${e?.message ?? e}`);
  }
  for (const [i, p] of (res.pages ?? []).entries()) {
    if (!p.isClosed()) {
      const text = await p.locator('body').innerText({ timeout: 2000 }).catch(() => '');
      console.log(`#   page ${i} at ${p.url()}: ${text.replace(/\s+/g, ' ').slice(0, 400)}`);
      await p.screenshot({ path: path.join(ARTIFACTS, `e2e-failure-${i}.png`), timeout: 5000 }).catch(() => {});
    }
  }
  if (dialogs.length) console.log(`#   dialogs: ${dialogs.join(' | ')}`);
  if (pageErrors.length) console.log(`#   page errors: ${pageErrors.join(' | ')}`);
  for (const [name, lines] of logs) console.log(`#   ${name}:\n#     ${lines.join('\n#     ')}`);
} finally {
  await res.browser?.close().catch(() => {});
  if (res.partnerServer) {
    const closed = new Promise((r) => res.partnerServer.close(r));
    res.partnerServer.closeAllConnections();
    await closed;
  }
  await stopChildren();
  if (res.tmp) fs.rmSync(res.tmp, { recursive: true, force: true });
}
console.log(`# ${elapsed()}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
