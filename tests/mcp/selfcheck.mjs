// Self-check of server.mjs and client.mjs, documenting the MCP authorization flow they
// serve: starts the server, then walks discovery, registration, a code + PKCE sign-in
// through oidc-provider's devInteractions forms (as the Rust tests' `sign_in` does), MCP
// calls through client.mjs, scope and audience refusals, refresh with a resource, and the
// refusal variants.
//
//   node selfcheck.mjs        -> prints each step; exits non-zero on the first failure
import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { decodeJwt } from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
let passed = 0;
const check = (ok, what, detail) => {
  if (!ok) {
    console.error(`FAIL ${what}${detail === undefined ? '' : `\n  ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`);
    process.exit(1);
  }
  passed += 1;
  console.log(`ok   ${what}`);
};

// ---- the server ------------------------------------------------------------------------
const server = spawn(process.execPath, ['server.mjs'], {
  cwd: here,
  env: { ...process.env, PORT: '0', ACCESS_TTL: '60', EXIT_WITH_STDIN: '1' },
  stdio: ['pipe', 'pipe', 'pipe'],
});
let serverErr = '';
server.stderr.on('data', (d) => { serverErr += d; });
process.on('exit', () => server.kill());
const lines = createInterface({ input: server.stdout });
const first = await Promise.race([
  once(lines, 'line').then(([line]) => line),
  once(server, 'exit').then(() => undefined),
  new Promise((resolve) => { setTimeout(resolve, 20000); }),
]);
check(first?.startsWith('listening http://127.0.0.1:'), 'server prints `listening <url>`', `${first}\n${serverErr}`);
const BASE = first.slice('listening '.length).trim();
const ISSUER = `${BASE}/oauth`;
const MCP = `${BASE}/mcp`;
lines.on('line', (line) => check(false, 'server prints one stdout line only', line));

const getJson = async (url) => {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
};

// client.mjs http <url> <plan>, with MCP_BEARER when token is given: its JSON output.
const sdkClient = (url, plan, token) => new Promise((resolve, reject) => {
  const env = { ...process.env };
  delete env.MCP_BEARER;
  if (token) env.MCP_BEARER = token;
  execFile(process.execPath, ['client.mjs', 'http', url, JSON.stringify(plan)], { cwd: here, env, timeout: 30000 },
    (err, stdout, stderr) => {
      if (err) return reject(new Error(`client.mjs: ${err.message}\n${stderr}`));
      try { return resolve(JSON.parse(stdout)); } catch (e) { return reject(new Error(`client.mjs printed ${stdout}: ${e.message}`)); }
    });
});
const textOf = (call) => call?.result?.content?.map((c) => c.text).join('\n');

// ---- discovery -------------------------------------------------------------------------
{
  const r = await fetch(MCP, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const www = r.headers.get('www-authenticate');
  check(r.status === 401 && www === `Bearer resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp"`,
    'POST /mcp without a token: 401 naming the resource metadata', `${r.status} ${www}`);
  const prm = await getJson(`${BASE}/.well-known/oauth-protected-resource/mcp`);
  check(prm.body.resource === MCP && prm.body.authorization_servers[0] === ISSUER
    && prm.body.scopes_supported.join() === 'mcp:read', 'protected resource metadata of /mcp', prm.body);
  const oidc = await getJson(`${ISSUER}/.well-known/openid-configuration`);
  check(oidc.body.issuer === ISSUER && oidc.body.registration_endpoint === `${ISSUER}/reg`
    && oidc.body.authorization_endpoint === `${ISSUER}/auth` && oidc.body.token_endpoint === `${ISSUER}/token`
    && oidc.body.code_challenge_methods_supported.join() === 'S256', 'OpenID discovery under /oauth', oidc.body);
  const rfc8414 = await getJson(`${BASE}/.well-known/oauth-authorization-server/oauth`);
  check(JSON.stringify(rfc8414.body) === JSON.stringify(oidc.body), 'RFC 8414 metadata at /.well-known/oauth-authorization-server/oauth');
}

// ---- registration ----------------------------------------------------------------------
const registration = await fetch(`${ISSUER}/reg`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    client_name: 'Authdesk',
    redirect_uris: ['http://127.0.0.1/connector/callback'],
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  }),
});
const client = await registration.json();
check(registration.status === 201 && client.client_id && client.client_secret, 'dynamic registration: 201 with a secret', client);
const basic = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
const redirectUri = 'http://127.0.0.1:45678/connector/callback'; // any port: native loopback

// ---- sign-in ---------------------------------------------------------------------------
// A cookie jar honouring Path, enough for oidc-provider's cookies.
function jar() {
  const cookies = new Map();
  return {
    store(url, response) {
      for (const line of response.headers.getSetCookie()) {
        const [pair, ...attrs] = line.split(';').map((s) => s.trim());
        const name = pair.slice(0, pair.indexOf('='));
        const value = pair.slice(pair.indexOf('=') + 1);
        const attr = (key) => attrs.find((a) => a.toLowerCase().startsWith(`${key}=`))?.split('=').slice(1).join('=');
        const path = attr('path') || '/';
        const expires = attr('expires');
        const gone = attr('max-age') === '0' || (expires && new Date(expires) < new Date()) || value === '';
        if (gone) cookies.delete(`${path} ${name}`); else cookies.set(`${path} ${name}`, { name, value, path });
      }
    },
    header(url) {
      const { pathname } = new URL(url);
      return [...cookies.values()].filter((c) => pathname.startsWith(c.path)).map((c) => `${c.name}=${c.value}`).join('; ');
    },
  };
}

const between = (text, start, end) => {
  const from = text.indexOf(start);
  if (from < 0) return undefined;
  const rest = text.slice(from + start.length);
  return rest.slice(0, rest.indexOf(end));
};

// As crates/authdesk-core/tests/support/oidc.rs `sign_in`: GET the authorization URL,
// follow redirects on the issuer's origin, post the login form (prompt=login, login,
// password) and the consent form (prompt=consent); return the Location leaving the origin.
async function signIn(authorizationUrl, login, prompts = []) {
  const cookies = jar();
  let url = authorizationUrl;
  let form;
  const origin = new URL(url).origin;
  for (let step = 0; step < 20; step += 1) {
    const headers = { cookie: cookies.header(url) };
    const init = form
      ? { method: 'POST', body: new URLSearchParams(form), headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } }
      : { headers };
    form = undefined;
    const r = await fetch(url, { ...init, redirect: 'manual' });
    cookies.store(url, r);
    if (r.status >= 300 && r.status < 400) {
      const next = new URL(r.headers.get('location'), url).href;
      if (new URL(next).origin !== origin) return next;
      url = next;
      continue;
    }
    const html = await r.text();
    const formHtml = html.slice(html.indexOf('<form'));
    const action = between(formHtml, 'action="', '"')?.replaceAll('&amp;', '&');
    const prompt = between(formHtml, 'name="prompt" value="', '"');
    if (r.status !== 200 || !action || !prompt) check(false, `sign-in page at ${url}`, `${r.status} ${html.slice(0, 800)}`);
    prompts.push(prompt);
    url = new URL(action, url).href;
    form = prompt === 'login' ? { prompt: 'login', login, password: 'any password' } : { prompt: 'consent' };
  }
  return check(false, 'sign-in ends within 20 steps');
}

const b64url = (buf) => buf.toString('base64url');
async function codeFlow({ resource, scope, login = 'frank', tokenResource = resource }) {
  const verifier = b64url(crypto.randomBytes(32));
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
  const state = b64url(crypto.randomBytes(8));
  const authorize = new URL(`${ISSUER}/auth`);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, scope, resource,
    code_challenge: challenge, code_challenge_method: 'S256', state,
  })) if (v !== undefined) authorize.searchParams.set(k, v);
  const prompts = [];
  const callback = new URL(await signIn(authorize.href, login, prompts));
  check(callback.origin + callback.pathname === redirectUri && callback.searchParams.get('state') === state
    && callback.searchParams.get('code') && callback.searchParams.get('iss') === ISSUER
    && prompts.join() === 'login,consent',
  `sign-in for ${resource ?? '(no resource)'} (${scope}): login, consent, back to the loopback redirect with code and iss`,
  { callback: callback.href, prompts });
  return token({
    grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: redirectUri,
    code_verifier: verifier, ...(tokenResource === undefined ? {} : { resource: tokenResource }),
  });
}

async function token(params) {
  const r = await fetch(`${ISSUER}/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
  });
  return { status: r.status, body: await r.json() };
}

const first_ = await codeFlow({ resource: MCP, scope: 'mcp:read' });
check(first_.status === 200 && first_.body.refresh_token && first_.body.scope === 'mcp:read',
  'code grant with resource: access token, refresh token, scope mcp:read', first_.body);
const claims = decodeJwt(first_.body.access_token);
check(claims.aud === MCP && claims.iss === ISSUER && claims.sub === 'frank' && claims.scope === 'mcp:read'
  && claims.client_id === client.client_id, 'the access token is a JWT for /mcp', claims);

// ---- MCP over the SDK client -----------------------------------------------------------
{
  const out = await sdkClient(MCP, {
    list: true,
    calls: [{ name: 'whoami' }, { name: 'add', arguments: { a: 2, b: 40 } }, { name: 'write_note', arguments: { text: 'hi' } }],
  }, first_.body.access_token);
  check(out.serverInfo?.name === 'authdesk-test-mcp', 'client.mjs connects to /mcp with the token', out);
  check(out.tools.map((t) => t.name).sort().join() === 'add,whoami,write_note', 'tools/list on /mcp', out.tools);
  check(textOf(out.calls[0]) === 'hello frank\nscope: mcp:read', 'whoami says who and the scope', out.calls[0]);
  check(textOf(out.calls[1]) === '42', 'add', out.calls[1]);
  const denied = out.calls[2];
  check(!denied.ok && denied.error.httpStatus === 403
    && denied.error.wwwAuthenticate === `Bearer error="insufficient_scope", scope="mcp:read mcp:write", resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp"`,
  'write_note without mcp:write: HTTP 403 insufficient_scope', denied);
}
{
  const r = await fetch(MCP, {
    method: 'POST',
    headers: {
      authorization: 'Bearer not-a-token', 'content-type': 'application/json', accept: 'application/json, text/event-stream',
    },
    body: '{}',
  });
  check(r.status === 401 && r.headers.get('www-authenticate') === `Bearer error="invalid_token", resource_metadata="${BASE}/.well-known/oauth-protected-resource/mcp"`,
    'a bad token: 401 invalid_token', r.headers.get('www-authenticate'));
  const wrong = await sdkClient(`${BASE}/json/mcp`, { list: true }, first_.body.access_token);
  check(wrong.httpStatus === 401 && /invalid_token/.test(wrong.wwwAuthenticate), 'the /mcp token at /json/mcp: 401', wrong);
  const stats = (await getJson(`${BASE}/__test/stats`)).body;
  check(stats.wrongAudience === 1, 'stats.wrongAudience counts it', stats);
}

// ---- refresh ---------------------------------------------------------------------------
const refreshed = await token({ grant_type: 'refresh_token', refresh_token: first_.body.refresh_token, resource: MCP });
check(refreshed.status === 200 && refreshed.body.access_token !== first_.body.access_token
  && refreshed.body.refresh_token && refreshed.body.refresh_token !== first_.body.refresh_token,
'refresh with resource: a new access token and a rotated refresh token', refreshed.body);
check(decodeJwt(refreshed.body.access_token).aud === MCP, 'the refreshed token is for /mcp too');
{
  const out = await sdkClient(MCP, { calls: [{ name: 'whoami' }] }, refreshed.body.access_token);
  check(textOf(out.calls?.[0]) === 'hello frank\nscope: mcp:read', 'the refreshed token works at /mcp', out);
  const other = await token({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, resource: `${BASE}/json/mcp` });
  check(other.status === 400 && other.body.error === 'invalid_target', 'refresh for a resource never granted: invalid_target', other.body);
  const reused = await token({ grant_type: 'refresh_token', refresh_token: first_.body.refresh_token, resource: MCP });
  check(reused.status === 400 && reused.body.error === 'invalid_grant', 'a rotated-out refresh token: invalid_grant', reused.body);
}

// ---- /json/mcp: JSON answers, and write with mcp:write ----------------------------------
{
  const json = await codeFlow({ resource: `${BASE}/json/mcp`, scope: 'mcp:read mcp:write', login: 'grace' });
  check(json.status === 200 && decodeJwt(json.body.access_token).aud === `${BASE}/json/mcp`
    && json.body.scope === 'mcp:read mcp:write', 'a token for /json/mcp with mcp:write', json.body);
  const out = await sdkClient(`${BASE}/json/mcp`, {
    list: true, calls: [{ name: 'write_note', arguments: { text: 'hi' } }, { name: 'whoami' }],
  }, json.body.access_token);
  check(textOf(out.calls?.[0]) === 'saved: hi' && textOf(out.calls?.[1]) === 'hello grace\nscope: mcp:read mcp:write',
    'write_note with mcp:write at /json/mcp', out);
  const init = (url, bearer) => fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${bearer}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '0' } },
    }),
  });
  const r = await init(`${BASE}/json/mcp`, json.body.access_token);
  check(r.status === 200 && r.headers.get('content-type').startsWith('application/json') && r.headers.get('mcp-session-id'),
    '/json/mcp answers initialize with application/json', `${r.status} ${r.headers.get('content-type')}`);
  await r.text();
  const sse = await init(MCP, refreshed.body.access_token);
  check(sse.status === 200 && sse.headers.get('content-type').startsWith('text/event-stream'),
    '/mcp answers initialize with text/event-stream', `${sse.status} ${sse.headers.get('content-type')}`);
  await sse.text();
}

// ---- /open/mcp -------------------------------------------------------------------------
{
  const out = await sdkClient(`${BASE}/open/mcp`, { list: true, calls: [{ name: 'add', arguments: { a: 1, b: 2 } }] });
  check(out.tools?.map((t) => t.name).join() === 'add' && textOf(out.calls[0]) === '3', '/open/mcp without a token', out);
}

// ---- refusal variants ------------------------------------------------------------------
{
  const post = (path) => fetch(`${BASE}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  const port = new URL(BASE).port;
  let r = await post('/bad-as/mcp');
  check(r.status === 401 && r.headers.get('www-authenticate') === `Bearer resource_metadata="${BASE}/.well-known/oauth-protected-resource/bad-as/mcp"`, '/bad-as/mcp: 401');
  let prm = (await getJson(`${BASE}/.well-known/oauth-protected-resource/bad-as/mcp`)).body;
  check(prm.resource === `${BASE}/bad-as/mcp` && prm.authorization_servers[0] === `http://127.0.0.2:${port}/oauth`, '/bad-as/mcp names another origin', prm);
  r = await post('/bad-resource/mcp');
  check(r.status === 401 && r.headers.get('www-authenticate') === `Bearer resource_metadata="${BASE}/.well-known/oauth-protected-resource/bad-resource/mcp"`, '/bad-resource/mcp: 401');
  prm = (await getJson(`${BASE}/.well-known/oauth-protected-resource/bad-resource/mcp`)).body;
  check(prm.resource === `${BASE}/elsewhere/mcp`, '/bad-resource/mcp metadata names another resource', prm);
  r = await post('/no-header/mcp');
  check(r.status === 401 && r.headers.get('www-authenticate') === 'Bearer', '/no-header/mcp: 401 with a bare Bearer challenge', r.headers.get('www-authenticate'));
  prm = (await getJson(`${BASE}/.well-known/oauth-protected-resource/no-header/mcp`)).body;
  check(prm.resource === `${BASE}/no-header/mcp` && prm.authorization_servers[0] === ISSUER, '/no-header/mcp metadata at the well-known URL', prm);
  const t = await codeFlow({ resource: `${BASE}/no-header/mcp`, scope: 'mcp:read' });
  const out = await sdkClient(`${BASE}/no-header/mcp`, { calls: [{ name: 'add', arguments: { a: 5, b: 5 } }] }, t.body.access_token);
  check(textOf(out.calls?.[0]) === '10', '/no-header/mcp works once signed in', out);
  r = await post('/not-mcp');
  check(r.status === 200 && r.headers.get('content-type') === 'text/html' && await r.text() === '<html>hello</html>', '/not-mcp is a web page');
  const notMcp = await sdkClient(`${BASE}/not-mcp`, { list: true });
  check(typeof notMcp.connectError === 'string', 'client.mjs reports connectError for /not-mcp', notMcp);
}

// ---- defaults: no resource at all, and openid ------------------------------------------
{
  // defaultResource is /mcp; useGrantedResource: a token request without resource gets it.
  const t = await codeFlow({ resource: undefined, scope: 'openid mcp:read', login: 'heidi' });
  const at = decodeJwt(t.body.access_token ?? '');
  check(t.status === 200 && at.aud === MCP && at.scope === 'mcp:read' && t.body.id_token && t.body.refresh_token,
    'no resource anywhere: a /mcp token (scope mcp:read), an ID token and a refresh token', { body: t.body, at });
  const r = await token({ grant_type: 'refresh_token', refresh_token: t.body.refresh_token });
  check(r.status === 200 && decodeJwt(r.body.access_token).aud === MCP, 'refresh without resource: a /mcp token', r.body);
}

// ---- client.mjs over stdio -------------------------------------------------------------
{
  const fixture = `
    import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
    import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
    import * as z from 'zod';
    const s = new McpServer({ name: 'stdio-fixture', version: '2.0.0' });
    s.registerTool('echo', { description: 'Echoes', inputSchema: { text: z.string() } },
      async ({ text }) => ({ content: [{ type: 'text', text: text + ' ' + process.env.FIXTURE_VAR }] }));
    await s.connect(new StdioServerTransport());`;
  const plan = { list: true, calls: [{ name: 'echo', arguments: { text: 'hi' } }] };
  const out = await new Promise((resolve, reject) => {
    execFile(process.execPath, ['client.mjs', 'stdio', JSON.stringify(plan), '--', process.execPath, '--input-type=module', '-e', fixture],
      { cwd: here, env: { ...process.env, FIXTURE_VAR: 'env-passed' }, timeout: 30000 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
  check(out.serverInfo?.name === 'stdio-fixture' && out.tools?.[0]?.name === 'echo' && textOf(out.calls[0]) === 'hi env-passed',
    'client.mjs stdio: the environment passes, tools/list and tools/call', out);
}

// ---- stats -----------------------------------------------------------------------------
{
  const stats = (await getJson(`${BASE}/__test/stats`)).body;
  check(stats.registrations === 1 && stats.registeredClients[0].client_id === client.client_id
    && stats.registeredClients[0].token_endpoint_auth_method === 'client_secret_basic', 'stats: registrations', stats);
  check(stats.tokenGrants.authorization_code === 4 && stats.tokenGrants.refresh_token === 2
    && stats.tokenErrors.invalid_target === 1 && stats.tokenErrors.invalid_grant === 1, 'stats: token grants and errors', stats);
  check(stats.lastTokenRequestResource.length === 0, 'stats: last token request had no resource', stats);
  check(stats.toolCalls.whoami === 3 && stats.toolCalls.add === 3 && stats.toolCalls.write_note === 1
    && stats.toolCallsByPath['/open/mcp'].add === 1 && stats.insufficientScope === 1, 'stats: tool calls', stats);
  check([MCP, `${BASE}/json/mcp`, `${BASE}/no-header/mcp`].every((a) => stats.audiences.includes(a)) && stats.bearerRequests > 0,
    'stats: audiences and bearer requests', stats);
  await fetch(`${BASE}/__test/reset`, { method: 'POST' });
  const zero = (await getJson(`${BASE}/__test/stats`)).body;
  check(zero.bearerRequests === 0 && zero.registrations === 0 && zero.tokenGrants.authorization_code === 0, 'POST /__test/reset zeroes the stats', zero);
}

check(!/server_error|request failed/.test(serverErr), 'the server logged no errors', serverErr);
if (process.env.SELFCHECK_VERBOSE) console.error(serverErr);
console.log(`${passed} passed, 0 failed`);
server.stdin.end();
process.exit(0);
