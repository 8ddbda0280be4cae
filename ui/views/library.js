// The Connector library view: the list of connectors, one connector's detail (its ways to
// authenticate, properties, methods, sources, definition), its OAuth app (ClientId and
// ClientSecret), adding connectors (a file, an issuer to discover, the OAuth form, the API
// key / Basic / open form) and the editor (duplicate, add a method, edit the TOML, remove).
// Must not: show a stored ClientSecret (only whether one is set).

import {
  call, $, state, go, el, activate, toast, confirmed, act, fill, copy, connectorDetail,
} from '../shared.js';

function authWays(c) {
  return c.Authentication.map((a) => (a.AuthType === 'OAuth2' ? `${a.AuthType} (${a.OAuth2Type})` : a.AuthType)).join(' or ');
}

const CATEGORIES = ['crm', 'accounting', 'support', 'ecommerce', 'marketing', 'hr', 'payments', 'storage', 'communication', 'developer', 'productivity', 'other'];
$('library-category').append(...CATEGORIES.map((c) => {
  const o = el('option', c);
  o.value = c;
  return o;
}));
for (const id of ['library-search', 'library-category', 'library-auth']) {
  $(id).addEventListener(id === 'library-search' ? 'input' : 'change', () => renderLibrary());
}

/** The connectors the library's search and filters select. */
function selected(cs) {
  const q = $('library-search').value.trim().toLowerCase();
  const category = $('library-category').value;
  const auth = $('library-auth').value;
  return cs.filter((c) => (!q || c.Name.toLowerCase().includes(q) || c.Slug.includes(q))
    && (!category || c.Category === category)
    && (!auth || c.Authentication.some((a) => a.AuthType === auth)));
}

export function renderLibrary() {
  if (!state.overview) return;
  const all = state.overview.Connectors;
  const cs = selected(all);
  $('library-count').textContent = cs.length === all.length ? `(${all.length})` : `(${cs.length} of ${all.length})`;
  fill($('library').tBodies[0], cs.map((c) => {
    const tr = el('tr');
    tr.className = 'clickable' + (c.Slug === state.library ? ' selected' : '');
    tr.dataset.slug = c.Slug;
    const oauth = c.Authentication.some((a) => a.AuthType === 'OAuth2' || a.AuthType === 'OAuth1');
    const app = c.ClientId ? `${c.ClientId}${c.ClientSecretSet ? ' + secret' : ' (public)'}` : oauth ? 'not set' : '—';
    const name = el('td');
    name.append(el('div', `${c.Name}`), el('div', `${c.Slug}${c.Category ? ` · ${c.Category}` : ''} · v${c.Version}${c.Source === 'User' ? ' · yours' : ''}`, 'muted'));
    tr.append(name, el('td', authWays(c)), el('td', app));
    activate(tr, () => act(null, () => openLibrary(c.Slug)));
    return tr;
  }), 3);
}

export async function openLibrary(slug, focus = null) {
  go.show('library');
  state.library = slug;
  delete state.details[slug];
  const d = await connectorDetail(slug);
  renderLibrary();
  renderLibraryDetail(d);
  // It opens at its top (a form submitted far down the list left the page scrolled there),
  // or at the field asked for.
  if (focus) $(focus).focus();
  else $('library-detail').scrollIntoView({ block: 'start' });
}

const CLIENT_AUTH = {
  basic: 'HTTP Basic',
  body: 'form body',
  none: 'none (public client)',
  private_key_jwt: 'a JWT signed with the app\'s private key (private_key_jwt)',
  client_secret_jwt: 'a JWT signed with the ClientSecret (client_secret_jwt)',
};

/** The private key part of the OAuth app form: shown for an app that signs with one. */
function renderClientKey(c, ways) {
  const signs = ways.some((a) => a.type === 'oauth2' && a.client_auth === 'private_key_jwt');
  $('client-key').hidden = !signs;
  $('client-private-key').value = '';
  $('client-key-file').value = '';
  const jwk = c.PublicJwk ? JSON.stringify(c.PublicJwk) : '';
  $('client-jwk').textContent = jwk;
  $('client-jwk').hidden = !jwk;
  $('copy-jwk').hidden = !jwk;
  $('client-key-note').textContent = jwk
    ? 'A private key is sealed in the vault. Register this public key (JWK) at the provider; its kid names it in every assertion.'
    : 'No private key yet: generate one here (the provider then registers its public key), or import the app\'s key.';
  $('generate-key').textContent = jwk ? 'Replace with a new key' : 'Generate a new key';
}

function renderLibraryDetail(d) {
  const c = d.Connector;
  const def = d.Definition;
  $('library-empty').hidden = true;
  $('library-detail').hidden = false;
  $('lib-title').textContent = `${c.Name} (${c.Slug}, v${c.Version})`;
  $('lib-source').textContent = c.Source === 'User' ? 'Your connector' : 'Built in';
  $('lib-description').textContent = c.Description;
  const mine = c.Source === 'User';
  $('rename-form').hidden = !mine;
  $('rename-name').value = c.Name;
  // The editor: a user connector is changed in place; a built-in one is duplicated first.
  $('remove-connector').hidden = !mine;
  $('lib-builtin-note').hidden = mine;
  $('method-card').hidden = !mine;
  $('edit-card').hidden = !mine;
  // What is being typed stays while the same connector is shown again.
  if ($('edit-text').dataset.for !== c.Slug) {
    $('edit-text').value = d.DefinitionText;
    $('edit-text').dataset.for = c.Slug;
  }
  if ($('duplicate-id').dataset.for !== c.Slug) {
    $('duplicate-id').value = mine ? `${c.Slug}-copy` : `my-${c.Slug}`;
    $('duplicate-name').value = `${c.Name} (copy)`;
    $('duplicate-id').dataset.for = c.Slug;
  }
  const ways = [def.auth, ...(def.auth_methods || []).map((m) => m.auth)];
  const rows = [];
  for (const a of ways) {
    if (a.type === 'oauth2') {
      rows.push(['OAuth 2.0', `${a.grant.replace(/_/g, ' ')} grant`],
        ['Authorize URL', a.authorize_url || '—'], ['Token URL', a.token_url], ['Revocation URL', a.revoke_url || '—'],
        ['Scopes', (a.scopes || []).join(' ') || '—'], ['PKCE', a.pkce ? 'yes (S256)' : 'no'],
        ['Client authentication', CLIENT_AUTH[a.client_auth] || a.client_auth],
        ['DPoP (tokens bound to a key)', a.dpop === true ? 'yes' : a.dpop === 'auto' ? 'where the provider offers it' : 'no'],
        ['Pushed authorization request', a.par ? `yes, to ${a.pushed_authorization_request_url} (RFC 9126)` : 'no'],
        ['Sign-in runs in', a.sign_in === 'system_browser' ? 'the system browser' : 'an embedded window']);
    } else if (a.type === 'oauth1') {
      rows.push(['OAuth 1.0a', `signed with ${a.signature_method || 'HMAC-SHA1'}`],
        ['Request token URL', a.request_token_url], ['Authorize URL', a.authorize_url], ['Access token URL', a.access_token_url],
        ['Sign-in runs in', a.sign_in === 'system_browser' ? 'the system browser' : 'an embedded window']);
    } else if (a.type === 'api_key') {
      rows.push(['API key', `${a.placement === 'query' ? 'query parameter' : 'header'} ${a.name}${a.prefix ? ` (prefix "${a.prefix}")` : ''}`]);
    } else {
      rows.push(['Auth', a.type === 'basic' ? 'HTTP Basic (username and password)' : 'none']);
    }
  }
  if (def.api_base_url) rows.push(['API base URL', def.api_base_url]);
  $('lib-auth').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', k), el('dd', v)]));
  const oauth = ways.some((a) => a.type === 'oauth2' || a.type === 'oauth1');
  $('client').hidden = !oauth;
  $('lib-redirect').textContent = d.RedirectUri;
  $('client-id').value = c.ClientId || '';
  $('client-secret').value = '';
  $('client-public').checked = !!c.ClientId && !c.ClientSecretSet;
  $('clear-client').hidden = !c.ClientId;
  renderClientKey(c, ways);
  $('client-secret-note').textContent = c.ClientSecretSet
    ? 'A ClientSecret is stored. Leave this blank to keep it; type a new one to replace it.'
    : c.ClientId ? 'No ClientSecret is stored: this is a public client.' : 'Not set up yet.';
  fill($('lib-properties').tBodies[0], (def.properties || []).map((p) => {
    const tr = el('tr');
    tr.append(el('td', `${p.name}${p.secret ? ' (secret)' : ''}`), el('td', p.required ? 'yes' : 'no'), el('td', p.description || ''));
    return tr;
  }), 3);
  fill($('lib-methods').tBodies[0], (def.methods || []).map((m) => {
    const tr = el('tr');
    tr.append(el('td', m.id), el('td', `${m.http_method.toUpperCase()} ${m.path}`), el('td', m.description || m.name));
    return tr;
  }), 3);
  // Sources open in the system browser (the shell opens only the definition's https URLs).
  $('lib-sources').replaceChildren(...(def.sources || []).map((s, i) => {
    const li = el('li');
    const a = el('a', s);
    a.href = '#';
    a.addEventListener('click', (e) => {
      e.preventDefault();
      act(null, () => call('open_source', { connector: c.Slug, index: i }));
    });
    li.append(a);
    return li;
  }));
  if (def.verified_on) $('lib-sources').append(el('li', `Last read ${def.verified_on}${def.category ? ` · category ${def.category}` : ''}`, 'muted'));
  if (!(def.sources || []).length) $('lib-sources').append(el('li', '—', 'muted'));
  $('lib-definition').textContent = d.DefinitionText;
}

$('copy-redirect').addEventListener('click', () => act($('copy-redirect'), () => copy($('lib-redirect').textContent, 'The redirect URI')));
$('copy-definition').addEventListener('click', () => act($('copy-definition'), () => copy($('lib-definition').textContent, 'The definition')));
$('client-public').addEventListener('change', () => {
  if ($('client-public').checked) $('client-secret').value = '';
});

$('copy-jwk').addEventListener('click', () => act($('copy-jwk'), () => copy($('client-jwk').textContent, 'The public key')));
$('client-key-file').addEventListener('change', async () => {
  const f = $('client-key-file').files[0];
  if (f) $('client-private-key').value = await f.text();
});

/** Saves the app's private key: imported (PEM) or generated here; the JWK is shown. */
async function saveClientKey(privateKey) {
  const c = await call('set_connector_client_key', {
    connector: state.library, clientId: $('client-id').value, privateKey, generate: !privateKey,
  });
  toast(privateKey
    ? 'Private key imported and sealed. Its public key (JWK) is shown to register at the provider.'
    : 'New key made and sealed. Register its public key (JWK), shown below, at the provider.');
  await openLibrary(state.library);
  return c;
}

$('generate-key').addEventListener('click', () => act($('generate-key'), async () => {
  if (!$('client-jwk').hidden
    && !confirmed($('generate-key'), 'Click again: the provider must then register the new public key')) return;
  await saveClientKey(null);
}));

$('client').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('save-client'), async () => {
    const pem = $('client-private-key').value.trim();
    if (!$('client-key').hidden && pem) {
      await saveClientKey(pem);
      return;
    }
    const c = await call('set_connector_client', {
      connector: state.library,
      clientId: $('client-id').value,
      clientSecret: $('client-secret').value || null,
      public: $('client-public').checked,
    });
    toast(c.PublicJwk ? 'OAuth app saved (its private key kept).'
      : c.ClientSecretSet ? 'OAuth app saved (ClientSecret stored).' : 'OAuth app saved as a public client.');
    await openLibrary(state.library);
  });
});

$('clear-client').addEventListener('click', () => act($('clear-client'), async () => {
  if (!confirmed($('clear-client'), 'Click again: connectors without their own ClientId can no longer sign in or refresh')) return;
  await call('clear_connector_client', { connector: state.library });
  toast('OAuth app removed: the ClientId and ClientSecret are gone from the library entry.');
  await openLibrary(state.library);
}));

$('rename-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const c = await call('rename_connector', { connector: state.library, name: $('rename-name').value });
    toast(`Renamed to ${c.Name}.`);
    await openLibrary(c.Slug);
  });
});

$('remove-connector').addEventListener('click', () => act($('remove-connector'), async () => {
  if (!confirmed($('remove-connector'), 'Click again to remove this connector from the library')) return;
  const slug = state.library;
  await call('remove_connector', { connector: slug });
  toast(`${slug} removed from the library.`);
  state.library = null;
  $('library-detail').hidden = true;
  $('library-empty').hidden = false;
  renderLibrary();
}));

$('duplicate-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('duplicate'), async () => {
    const c = await call('duplicate_connector', {
      connector: state.library, id: $('duplicate-id').value.trim(), name: $('duplicate-name').value || null,
    });
    $('duplicate-card').open = false;
    toast(`${c.Name} is yours now: add methods or edit its definition.`);
    await openLibrary(c.Slug);
  });
});

$('method-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('add-method'), async () => {
    const c = await call('add_connector_method', {
      connector: state.library,
      form: {
        Id: $('method-id').value,
        Name: $('method-name').value,
        HttpMethod: $('method-http').value,
        Path: $('method-path').value,
        Parameters: $('method-params').value,
        BodyFormat: $('method-body').value,
        Description: $('method-description').value,
      },
    });
    const name = $('method-name').value;
    $('method-form').reset();
    delete $('edit-text').dataset.for; // the text changed: show the new one
    toast(`Method ${name} added to ${c.Name}.`);
    await openLibrary(c.Slug);
  });
});

$('edit-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('save-definition'), async () => {
    const c = await call('save_connector_text', { editing: state.library, text: $('edit-text').value });
    delete $('edit-text').dataset.for;
    toast(`${c.Name} saved.`);
    await openLibrary(c.Slug);
  });
});

function showKeyFields() {
  $('plain-key').hidden = $('plain-auth').value !== 'api_key';
}
$('plain-auth').addEventListener('change', showKeyFields);
showKeyFields();

$('plain-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('create-plain'), async () => {
    const auth = $('plain-auth').value;
    const c = await call('add_plain_connector', {
      form: {
        Id: $('plain-id').value,
        Name: $('plain-name').value,
        ApiBaseUrl: $('plain-api').value,
        Auth: auth,
        Placement: auth === 'api_key' ? $('plain-placement').value : null,
        KeyName: auth === 'api_key' ? $('plain-key-name').value : null,
        Prefix: auth === 'api_key' ? $('plain-prefix').value : null,
      },
    });
    $('plain-form').reset();
    showKeyFields();
    toast(`${c.Name} created. Add its methods below.`);
    $('method-card').open = true;
    await openLibrary(c.Slug, 'method-id');
  });
});

$('add-connector').addEventListener('submit', (e) => {
  e.preventDefault();
  act(null, async () => {
    const file = $('connector-file').files[0];
    if (!file) throw new Error('Choose a connector definition file (.toml) first.');
    const c = await call('add_connector', { fileName: file.name, text: await file.text(), replace: $('connector-replace').checked });
    toast(`${c.Name} added to the library.`);
    await openLibrary(c.Slug);
  });
});

$('discover').addEventListener('submit', (e) => {
  e.preventDefault();
  act(e.submitter, async () => {
    toast('Reading the provider\'s metadata…');
    const c = await call('discover_connector', { issuer: $('discover-issuer').value, id: $('discover-id').value || null, name: $('discover-name').value || null });
    toast(`${c.Name} added to the library.`);
    await openLibrary(c.Slug);
  });
});

$('oauth-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('create-oauth'), async () => {
    const c = await call('add_oauth_connector', {
      form: {
        Id: $('oauth-id').value,
        Name: $('oauth-name').value,
        AuthorizeUrl: $('oauth-authorize').value,
        TokenUrl: $('oauth-token').value,
        RevokeUrl: $('oauth-revoke').value || null,
        ApiBaseUrl: $('oauth-api').value || null,
        Scopes: $('oauth-scopes').value,
        Pkce: $('oauth-pkce').checked,
        ClientAuth: $('oauth-client-auth').value,
        SignIn: $('oauth-sign-in').value,
        AuthorizeParams: $('oauth-params').value,
      },
    });
    $('oauth-form').reset();
    toast(`${c.Name} created. Set its OAuth app below.`);
    await openLibrary(c.Slug, 'client-id');
  });
});
