// A real OAuth2/OIDC authorization server for Authdesk's tests: panva's oidc-provider
// (certified OpenID provider) with its built-in devInteractions login and consent forms.
//
//   PORT=0 node server.mjs         -> prints `listening http://127.0.0.1:<port>` once ready
//
// Environment: PORT (default 0 = any free port), ACCESS_TTL (access token lifetime in
// seconds, default 60), ROTATE_REFRESH ('1' = rotate refresh tokens on use, the default),
// EXIT_WITH_STDIN ('1' = exit when stdin closes, so a killed test run leaves no server behind).
//
// Clients: see `clients` below; more are registered at POST /reg (open registration).
//
// Extra test endpoints (outside oidc-provider):
//   GET  /__test/stats  -> {"grants":{"authorization_code":1,...},"errors":{"invalid_grant":1},"revocations":1}
//   POST /__test/reset  -> zeroes those counts
import crypto from 'node:crypto';
import http from 'node:http';
import Provider, { errors } from 'oidc-provider';
import { createLocalJWKSet, jwtVerify } from 'jose';

// stdout carries exactly one line (`listening ...`, read by the Rust harness); oidc-provider
// prints its lazy "NOTICE: default ... function called" lines with console.info: send them to stderr.
console.info = (...args) => console.error(...args);

const SCOPE = 'openid offline_access profile email api:read';

const confidential = (client_id, client_secret, token_endpoint_auth_method, redirect_uris, extra = {}) => ({
  client_id,
  client_secret,
  token_endpoint_auth_method,
  redirect_uris,
  grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  response_types: ['code'],
  scope: SCOPE,
  ...extra,
});

const clients = [
  confidential('authdesk-web', 'authdesk-web-secret', 'client_secret_basic',
    ['https://app.example.com/callback', 'http://127.0.0.1:8788/connector/callback']),
  // Native + http loopback redirect: any port is accepted at /auth (RFC 8252 section 7.3).
  confidential('authdesk-native', 'authdesk-native-secret', 'client_secret_basic',
    ['http://127.0.0.1/callback', 'http://127.0.0.1/connector/callback'], { application_type: 'native' }),
  confidential('authdesk-post', 'authdesk-post-secret', 'client_secret_post',
    ['https://app.example.com/callback']),
  // Pushed authorization requests required (RFC 9126): /auth takes only a request_uri.
  confidential('authdesk-par', 'authdesk-par-secret', 'client_secret_basic',
    ['https://app.example.com/callback'], { require_pushed_authorization_requests: true }),
  // client_secret_jwt: an HS256 assertion under this secret (32 bytes or more for HS256).
  confidential('authdesk-secret-jwt', 'authdesk-secret-jwt-0123456789abcdef0123', 'client_secret_jwt',
    ['https://app.example.com/callback']),
  // Device sign-in (RFC 8628), a public client as on a TV or a command line.
  {
    client_id: 'authdesk-device',
    token_endpoint_auth_method: 'none',
    redirect_uris: [],
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
    response_types: [],
    scope: SCOPE,
  },
  {
    client_id: 'authdesk-public',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['https://app.example.com/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    scope: SCOPE,
  },
];

// ---- counters --------------------------------------------------------------------------
const emptyStats = () => ({ grants: {}, errors: {}, revocations: 0, jwtBearerSubjects: [] });
let stats = emptyStats();
const bump = (map, key) => { map[key] = (map[key] || 0) + 1; };

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

if (process.env.EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

// ---- server ----------------------------------------------------------------------------
let handler = (_req, res) => sendJson(res, 503, { error: 'starting' });

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'GET' && path === '/__test/stats') return sendJson(res, 200, stats);
  if (req.method === 'POST' && path === '/__test/reset') {
    stats = emptyStats();
    return sendJson(res, 200, stats);
  }
  return handler(req, res);
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients,
    features: {
      devInteractions: { enabled: true }, // login + consent forms; any login/password is accepted
      clientCredentials: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      // Open dynamic registration (RFC 7591) and its management (RFC 7592): tests register
      // private_key_jwt clients with the public JWK Authdesk shows, and update it.
      registration: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
      deviceFlow: { enabled: true }, // /device/auth; the user approves at /device
      // DPoP (RFC 9449) with server nonces required at the token and userinfo endpoints:
      // a client must answer use_dpop_nonce once, then keep the latest nonce.
      dPoP: { enabled: true, nonceSecret: crypto.randomBytes(32), requireNonce: () => true },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: false },
      // No resourceIndicators: in 9.13 a client_credentials request with scope=api:read gets an
      // opaque token with that scope as is, and code-flow tokens stay userinfo (/me) tokens.
    },
    pkce: { required: () => true }, // S256 PKCE for every code flow, confidential clients too
    rotateRefreshToken: () => (process.env.ROTATE_REFRESH ?? '1') === '1',
    // Default issueRefreshToken: only when offline_access was granted (needs prompt=consent).
    scopes: SCOPE.split(' '),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() { return { sub: id, email: `${id}@example.com`, email_verified: true, name: id }; },
      };
    },
    ttl: {
      AccessToken: Number(process.env.ACCESS_TTL || 60),
      AuthorizationCode: 60,
      ClientCredentials: 600,
      RefreshToken: 86400,
      IdToken: 3600,
      Grant: 86400,
      Session: 86400,
      Interaction: 600,
    },
    cookies: { keys: ['authdesk-test-cookie-key'] },
  });

  provider.on('server_error', (_ctx, err) => console.error('server_error', err));

  // The JWT bearer grant (RFC 7523 section 2.1), as Google service accounts and Salesforce
  // take it: the assertion is signed with a key of the client's registered set, names the
  // client as iss, this token endpoint as aud, and expires; its sub is recorded in the
  // stats (jwtBearerSubjects). A replayed jti is refused.
  const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
  const seenJti = new Set();
  provider.registerGrantType(JWT_BEARER, async (ctx) => {
    const { client } = ctx.oidc;
    let payload;
    try {
      const keys = createLocalJWKSet(client.metadata().jwks || { keys: [] });
      ({ payload } = await jwtVerify(ctx.oidc.params.assertion, keys, {
        issuer: client.clientId, audience: `${issuer}/token`, requiredClaims: ['sub', 'exp', 'jti'],
      }));
    } catch (e) {
      throw new errors.InvalidGrant(`the assertion was refused: ${e.message}`);
    }
    if (seenJti.has(payload.jti)) throw new errors.InvalidGrant('the assertion was used before');
    seenJti.add(payload.jti);
    stats.jwtBearerSubjects.push(payload.sub);
    const token = new ctx.oidc.provider.ClientCredentials({ client, scope: payload.scope || undefined });
    const value = await token.save();
    ctx.body = { access_token: value, token_type: 'Bearer', expires_in: token.expiration, scope: token.scope };
  }, ['assertion', 'scope']);

  // Count token endpoint outcomes and revocations.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST') return;
    if (ctx.path === '/token') {
      if (ctx.status === 200) {
        bump(stats.grants, ctx.oidc?.params?.grant_type || 'unknown');
      } else {
        bump(stats.errors, ctx.body?.error || `http_${ctx.status}`);
      }
    } else if (ctx.path === '/token/revocation' && ctx.status === 200) {
      stats.revocations += 1;
    }
  });

  handler = provider.callback();
  console.log(`listening ${issuer}`);
});
