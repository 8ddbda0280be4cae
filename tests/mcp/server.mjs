// A remote MCP server protected by a real authorization server, in one process, for
// Authdesk's tests: panva's oidc-provider mounted under /oauth, and MCP servers of the
// official SDK (@modelcontextprotocol/sdk, Streamable HTTP) as OAuth protected resources
// (MCP authorization: RFC 9728 protected resource metadata, RFC 8707 resource indicators,
// RFC 7591 dynamic client registration, PKCE).
//
//   PORT=0 node server.mjs         -> prints `listening http://127.0.0.1:<port>` once ready
//
// Environment: PORT (default 0 = any free port), ACCESS_TTL (access token lifetime in
// seconds, default 60), EXIT_WITH_STDIN ('1' = exit when stdin closes, so a killed test
// run leaves no server behind).
//
// With BASE = http://127.0.0.1:<port> (see README.md for the full list):
//   BASE/oauth/...                      the authorization server (issuer BASE/oauth)
//   BASE/mcp, BASE/json/mcp             protected MCP servers (SSE answers; JSON answers)
//   BASE/no-header/mcp                  protected, but its 401 names no resource_metadata
//   BASE/open/mcp                       an MCP server without authorization
//   BASE/bad-as/mcp, BASE/bad-resource/mcp, BASE/not-mcp   refusal cases
//   GET BASE/__test/stats, POST BASE/__test/reset
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import * as z from 'zod';

// stdout carries exactly one line (`listening ...`, read by the Rust harness); oidc-provider
// prints its lazy "NOTICE: default ... function called" lines with console.info: send them to stderr.
console.info = (...args) => console.error(...args);

const ACCESS_TTL = Number(process.env.ACCESS_TTL || 60);
const SCOPE = 'openid offline_access mcp:read mcp:write';
const RESOURCE_SCOPE = 'mcp:read mcp:write';

// ---- counters --------------------------------------------------------------------------
const emptyStats = () => ({
  toolCalls: {}, // tool name -> calls handled (all MCP servers)
  toolCallsByPath: {}, // '/mcp' -> { whoami: 1, ... }
  bearerRequests: 0, // requests outside /oauth carrying `Authorization: Bearer`
  bearerRequestsByPath: {}, // '/mcp' -> that count by path
  wrongAudience: 0, // tokens with a good signature but another resource's aud
  insufficientScope: 0, // 403 insufficient_scope answers
  audiences: [], // aud values seen on tokens with a good signature
  registrations: 0, // successful POST /oauth/reg
  tokenGrants: { authorization_code: 0, refresh_token: 0 }, // successful /oauth/token by grant_type
  tokenErrors: {}, // failed /oauth/token by error code
  registeredClients: [], // [{client_id, token_endpoint_auth_method, redirect_uris}]
  lastTokenRequestResource: [], // the `resource` parameter(s) of the last /oauth/token request
});
let stats = emptyStats();
const bump = (map, key) => { map[key] = (map[key] || 0) + 1; };

function sendJson(res, status, value, headers = {}) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers,
  });
  res.end(body);
}

function readBody(req, limit = 4 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

if (process.env.EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

// The provider's signing key (RS256), made here so the resource servers verify access
// tokens with its public half without fetching /oauth/jwks.
const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
const kid = randomUUID();
const privateJwk = { ...await exportJWK(privateKey), kid, alg: 'RS256', use: 'sig' };
const publicJwks = { keys: [{ ...await exportJWK(publicKey), kid, alg: 'RS256', use: 'sig' }] };
const verificationKeys = createLocalJWKSet(publicJwks);

// ---- server ----------------------------------------------------------------------------
let handler = (_req, res) => sendJson(res, 503, { error: 'starting' });

const server = http.createServer((req, res) => {
  Promise.resolve(handler(req, res)).catch((err) => {
    console.error('request failed', req.method, req.url, err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err) });
    else res.end();
  });
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const BASE = `http://127.0.0.1:${port}`;
  const ISSUER = `${BASE}/oauth`;
  const MCP_URL = `${BASE}/mcp`;
  const prmUrl = (path) => `${BASE}/.well-known/oauth-protected-resource${path}`;

  // The protected MCP servers: path -> options. Their URLs are the provider's resources.
  const protectedPaths = {
    '/mcp': { json: false, header: true },
    '/json/mcp': { json: true, header: true },
    '/no-header/mcp': { json: false, header: false },
  };
  const resources = new Set(Object.keys(protectedPaths).map((path) => `${BASE}${path}`));

  const provider = new Provider(ISSUER, {
    jwks: { keys: [privateJwk] },
    features: {
      devInteractions: { enabled: true }, // login + consent forms; any login/password is accepted
      registration: { enabled: true }, // open dynamic registration (RFC 7591), no initial access token
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
      revocation: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => MCP_URL,
        useGrantedResource: () => true,
        getResourceServerInfo(_ctx, resourceIndicator) {
          if (!resources.has(resourceIndicator)) throw new errors.InvalidTarget();
          return {
            scope: RESOURCE_SCOPE,
            audience: resourceIndicator,
            accessTokenTTL: ACCESS_TTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    responseTypes: ['code'], // the code flow only
    pkce: { required: () => true }, // S256 only (the default methods)
    // A refresh token for every code grant of a client allowed refresh_token (no need for
    // offline_access), rotated on each use.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    // Refresh tokens outlive the sign-in's browser session (by default only offline_access
    // ones do).
    expiresWithSession: async () => false,
    scopes: SCOPE.split(' '),
    claims: { openid: ['sub'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() { return { sub: id }; },
      };
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL || ACCESS_TTL,
      AuthorizationCode: 60,
      RefreshToken: 86400,
      IdToken: 3600,
      Grant: 86400,
      Session: 86400,
      Interaction: 600,
    },
    cookies: { keys: ['authdesk-test-mcp-cookie-key'] },
  });

  provider.on('server_error', (_ctx, err) => console.error('server_error', err));

  // Count token endpoint outcomes and registrations.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    if (ctx.path === '/token') {
      const resource = ctx.oidc?.params?.resource;
      stats.lastTokenRequestResource = resource === undefined ? [] : [resource].flat();
      if (ctx.status === 200) {
        bump(stats.tokenGrants, ctx.oidc?.params?.grant_type || 'unknown');
      } else {
        bump(stats.tokenErrors, ctx.body?.error || `http_${ctx.status}`);
      }
    } else if (ctx.path === '/reg' && ctx.status === 201) {
      stats.registrations += 1;
      const { client_id, token_endpoint_auth_method, redirect_uris } = ctx.body || {};
      stats.registeredClients.push({ client_id, token_endpoint_auth_method, redirect_uris });
    }
  });

  const providerCallback = provider.callback();
  // Mounting under /oauth with plain node http, as connect/express do: oidc-provider sees the
  // path without the prefix in req.url and finds its mount path from req.originalUrl
  // (OIDCContext.urlFor), so the URLs it makes (discovery, forms, redirects) keep /oauth.
  const toProvider = (req, res, innerUrl) => {
    req.originalUrl = req.url;
    req.url = innerUrl;
    return providerCallback(req, res);
  };

  // ---- MCP servers ---------------------------------------------------------------------
  const text = (value) => ({ type: 'text', text: value });
  const counted = (path, name, fn) => async (...args) => {
    bump(stats.toolCalls, name);
    bump((stats.toolCallsByPath[path] ||= {}), name);
    return fn(...args);
  };

  function newMcpServer(path, { open = false } = {}) {
    const mcp = new McpServer({ name: open ? 'authdesk-test-mcp-open' : 'authdesk-test-mcp', version: '1.0.0' });
    if (!open) {
      mcp.registerTool('whoami', {
        description: 'Says who the access token is for, and its scope.',
      }, counted(path, 'whoami', async (extra) => {
        const auth = extra.authInfo;
        return { content: [text(`hello ${auth?.extra?.sub}`), text(`scope: ${auth?.scopes.join(' ')}`)] };
      }));
    }
    mcp.registerTool('add', {
      description: 'Adds two numbers.',
      inputSchema: { a: z.number(), b: z.number() },
    }, counted(path, 'add', async ({ a, b }) => ({ content: [text(String(a + b))] })));
    if (!open) {
      mcp.registerTool('write_note', {
        description: 'Saves a note (needs the mcp:write scope).',
        inputSchema: { text: z.string() },
      }, counted(path, 'write_note', async ({ text: note }) => ({ content: [text(`saved: ${note}`)] })));
    }
    return mcp;
  }

  // Stateful Streamable HTTP, as in the SDK's README: one transport (and McpServer) per
  // session, found by the Mcp-Session-Id header.
  function mcpEndpoint(path, { json = false, open = false } = {}) {
    const transports = new Map();
    return async (req, res, body) => {
      const sessionId = req.headers['mcp-session-id'];
      let transport = sessionId ? transports.get(sessionId) : undefined;
      if (sessionId && !transport) {
        return sendJson(res, 404, { jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      }
      if (!transport) {
        if (req.method !== 'POST' || !isInitializeRequest(body)) {
          return sendJson(res, 400, {
            jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: No valid session ID provided' }, id: null,
          });
        }
        transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: json,
          onsessioninitialized: (id) => { transports.set(id, transport); },
        });
        transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
        await newMcpServer(path, { open }).connect(transport);
      }
      return transport.handleRequest(req, res, body);
    };
  }

  const endpoints = {
    '/open/mcp': mcpEndpoint('/open/mcp', { open: true }),
  };
  for (const [path, { json }] of Object.entries(protectedPaths)) endpoints[path] = mcpEndpoint(path, { json });

  // The access token of a request to the protected resource `path`, checked: its claims, or
  // undefined (the reason in stats).
  async function verifiedToken(token, path) {
    try {
      const { payload } = await jwtVerify(token, verificationKeys, {
        issuer: ISSUER, audience: `${BASE}${path}`, typ: 'at+jwt',
      });
      for (const aud of [payload.aud].flat()) if (!stats.audiences.includes(aud)) stats.audiences.push(aud);
      return payload;
    } catch (err) {
      if (err.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'aud') {
        stats.wrongAudience += 1;
        for (const aud of [err.payload?.aud].flat()) if (aud && !stats.audiences.includes(aud)) stats.audiences.push(aud);
      }
      return undefined;
    }
  }

  const parseJson = (raw) => { try { return { value: JSON.parse(raw) }; } catch { return undefined; } };
  const parseError = (res) => sendJson(res, 400, { jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null });

  async function protectedMcp(req, res, path) {
    const { header } = protectedPaths[path];
    // WWW-Authenticate: `Bearer` and its auth-params, comma-separated (RFC 6750 section 3).
    const challenge = (...params) => {
      const all = [...params, ...(header ? [`resource_metadata="${prmUrl(path)}"`] : [])];
      return all.length ? `Bearer ${all.join(', ')}` : 'Bearer';
    };
    const raw = req.method === 'POST' ? await readBody(req) : undefined;
    const authorization = req.headers.authorization || '';
    const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
    const claims = match ? await verifiedToken(match[1], path) : undefined;
    if (!claims) {
      const www = match ? challenge('error="invalid_token"') : challenge();
      return sendJson(res, 401, { error: match ? 'invalid_token' : 'unauthorized' }, { 'www-authenticate': www });
    }
    let body;
    if (raw !== undefined) {
      const parsed = parseJson(raw);
      if (!parsed) return parseError(res);
      body = parsed.value;
    }
    const scopes = typeof claims.scope === 'string' ? claims.scope.split(' ').filter(Boolean) : [];
    const writes = [body].flat().some((m) => m?.method === 'tools/call' && m?.params?.name === 'write_note');
    if (writes && !scopes.includes('mcp:write')) {
      stats.insufficientScope += 1;
      const www = challenge('error="insufficient_scope"', `scope="${RESOURCE_SCOPE}"`);
      return sendJson(res, 403, { error: 'insufficient_scope' }, { 'www-authenticate': www });
    }
    req.auth = {
      token: match[1],
      clientId: claims.client_id,
      scopes,
      expiresAt: claims.exp,
      resource: new URL(`${BASE}${path}`),
      extra: { sub: claims.sub, aud: claims.aud },
    };
    return endpoints[path](req, res, body);
  }

  async function openMcp(req, res) {
    let body;
    if (req.method === 'POST') {
      const parsed = parseJson(await readBody(req));
      if (!parsed) return parseError(res);
      body = parsed.value;
    }
    return endpoints['/open/mcp'](req, res, body);
  }

  // ---- protected resource metadata (RFC 9728) ------------------------------------------
  const prm = (resource, authorizationServers = [ISSUER]) => ({
    resource,
    authorization_servers: authorizationServers,
    scopes_supported: ['mcp:read'],
    bearer_methods_supported: ['header'],
    resource_name: 'Test MCP server',
  });
  const metadataDocuments = {
    '/mcp': prm(`${BASE}/mcp`),
    '/json/mcp': prm(`${BASE}/json/mcp`),
    '/no-header/mcp': prm(`${BASE}/no-header/mcp`),
    '/bad-as/mcp': prm(`${BASE}/bad-as/mcp`, [`http://127.0.0.2:${port}/oauth`]),
    '/bad-resource/mcp': prm(`${BASE}/elsewhere/mcp`),
  };
  // Paths answering 401 to any request, for refusals before any sign-in.
  const alwaysUnauthorized = new Set(['/bad-as/mcp', '/bad-resource/mcp']);

  handler = async (req, res) => {
    const [path, query] = req.url.split(/\?(.*)/s);
    const search = query === undefined ? '' : `?${query}`;

    if (req.method === 'GET' && path === '/__test/stats') return sendJson(res, 200, stats);
    if (req.method === 'POST' && path === '/__test/reset') {
      stats = emptyStats();
      return sendJson(res, 200, stats);
    }

    if (path === '/oauth' || path.startsWith('/oauth/')) {
      return toProvider(req, res, (path.slice('/oauth'.length) || '/') + search);
    }
    if (/^Bearer\s/i.test(req.headers.authorization || '')) {
      stats.bearerRequests += 1;
      bump(stats.bearerRequestsByPath, path);
    }
    // RFC 8414 metadata for the issuer BASE/oauth at the well-known URL with the issuer's
    // path inserted (and the OpenID Connect Discovery variant of that insertion): the
    // provider's own document, answered by its /oauth/.well-known/... routes.
    for (const wellKnown of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      if (path === `${wellKnown}/oauth`) {
        req.url = `/oauth${wellKnown}${search}`;
        return toProvider(req, res, `${wellKnown}${search}`);
      }
    }

    const prmPrefix = '/.well-known/oauth-protected-resource';
    if (path.startsWith(`${prmPrefix}/`) && metadataDocuments[path.slice(prmPrefix.length)]) {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' });
      return sendJson(res, 200, metadataDocuments[path.slice(prmPrefix.length)]);
    }

    if (protectedPaths[path]) return protectedMcp(req, res, path);
    if (path === '/open/mcp') return openMcp(req, res);
    if (alwaysUnauthorized.has(path)) {
      if (req.method === 'POST') await readBody(req).catch(() => {});
      return sendJson(res, 401, { error: 'unauthorized' }, {
        'www-authenticate': `Bearer resource_metadata="${prmUrl(path)}"`,
      });
    }
    if (path === '/not-mcp') {
      req.resume();
      const html = '<html>hello</html>';
      res.writeHead(200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(html) });
      return res.end(html);
    }
    req.resume();
    return sendJson(res, 404, { error: 'not_found' });
  };

  console.log(`listening ${BASE}`);
});
