// The Credential tab: the inspector (status, scopes, expiry countdowns, last error with
// what to do), the stored secrets (masked until revealed, JWT claims decoded), and the
// form that sets a credential for the account connector's way to authenticate.
// Must not: reveal a secret the user did not ask for, or re-render a form while it is
// being typed in.

import {
  call, $, state, go, el, button, toast, confirmed, act, statusBadge, span, copy, when,
} from '../../shared.js';

// JWT times as dates next to the raw value.
const JWT_TIMES = ['exp', 'iat', 'nbf', 'auth_time'];

export function renderInspection(ac, i) {
  const dl = $('inspector');
  const type = ac.Authentication.AuthType;
  const rows = [
    ['Status', statusBadge(ac, !!i.SecretsUnavailable)],
    ['Auth type', (i.OAuth2Type ? `${i.AuthType} (${i.OAuth2Type})` : i.AuthType)
      + (ac.Authentication.IsDefault ? '' : ` — ${ac.Authentication.AuthName}`)],
  ];
  if (type === 'OAuth2') {
    rows.push(
      ['Scopes', i.Scopes.length ? i.Scopes.join(' ') : '—'],
      ['Token type', i.DpopJkt ? `DPoP-bound to key ${i.DpopJkt} (RFC 9449)` : i.TokenType || '—'],
      ['Expires', el('span', '', 'countdown')],
      ['Refresh expires', el('span', '', 'refresh-countdown')],
      ['Refresh margin', i.RefreshMarginSeconds == null ? '—'
        : `${i.RefreshMarginSeconds} s before expiry${i.RefreshDueAt ? ` (next refresh due ${when(i.RefreshDueAt)})` : ''}`],
    );
  } else if (ac.Authentication.VerifiedByCalls) {
    if (type === 'Basic') {
      rows.push(['Username', i.Username ?? (ac.SecretsSet.length ? '(cannot be read now)' : '—')],
        ['Password', ac.SecretsSet.length ? 'set' : '—']);
      // The form starts from the stored username (it is not a secret).
      const input = $('cred-username');
      if (input && i.Username && !input.value && document.activeElement !== input) input.value = i.Username;
    }
    const c = ac.LastCheck;
    rows.push(['Last check', c ? `${c.Ok ? 'worked' : 'refused'}: a call answered HTTP ${c.HttpStatus} at ${when(c.At)}`
      : (ac.SecretsSet.length ? 'not verified yet: a successful method call verifies it' : '—')]);
  }
  rows.push(['Authenticated at', when(i.AuthenticatedAt)]);
  dl.replaceChildren(...rows.flatMap(([k, v]) => {
    const dd = el('dd');
    if (v instanceof Node) dd.append(v); else dd.textContent = v;
    dd.id = `inspect-${k.toLowerCase().replace(/\s+/g, '-')}`;
    return [el('dt', k), dd];
  }));
  state.expiresAt = i.ExpiresAt;
  state.refreshExpiresAt = i.RefreshExpiresAt;
  tick();
  // The last error stays in view (a toast goes away), with what to do about it.
  const box = $('last-error');
  const problem = i.SecretsUnavailable ? `Secrets cannot be opened: ${i.SecretsUnavailable}`
    : ac.Status === 'Expired' ? `The access token expired ${when(ac.ExpiresAt)} and nothing can renew it (no usable refresh token). Sign in again, or import new tokens below.`
    : refused(ac) ? `The provider refused the ${{ ApiKey: 'API key', Basic: 'username and password' }[type] || 'auth fields'} (a call answered HTTP ${ac.LastCheck.HttpStatus} ${when(ac.LastCheck.At)}). Save a new one below.`
    : i.LastError || '';
  box.hidden = !problem;
  $('last-error-text').textContent = problem;
  const actions = [];
  if (i.SecretsUnavailable) actions.push(button('Open Settings', 'small', () => go.show('settings')));
  else if ((ac.Status === 'NeedsReauthentication' || ac.Status === 'Expired') && type === 'OAuth2') {
    actions.push(button('Sign in again', 'small', () => go.signIn()));
  } else if (refused(ac)) {
    actions.push(button(type === 'ApiKey' ? 'Enter a new key' : 'Enter new credentials', 'small', () => {
      const input = $('cred-key') || $('cred-username') || $('cred-field-0');
      if (input) input.focus();
    }));
  }
  $('last-error-actions').replaceChildren(...actions);
  renderSecrets(ac, i);
}

/** An API key, AuthFields or Basic credential the provider refused at its current version. */
function refused(ac) {
  return ac.Status === 'Authenticated' && ac.Authentication.VerifiedByCalls && ac.LastCheck && !ac.LastCheck.Ok;
}

function renderSecrets(ac, i) {
  const parts = [];
  for (const s of i.Secrets) {
    const div = el('div', null, 'secret');
    div.dataset.field = s.Field;
    const head = el('div', null, 'row');
    const shown = state.revealed[s.Field];
    head.append(el('strong', s.Field), el('code', shown ?? s.Masked));
    head.append(
      button(shown === undefined ? 'Reveal' : 'Hide', 'small', async () => {
        if (state.revealed[s.Field] === undefined) {
          state.revealed[s.Field] = await call('reveal_secret', { id: ac.Id, field: s.Field });
        } else {
          delete state.revealed[s.Field];
        }
        renderSecrets(ac, i);
      }),
      button('Copy', 'small', async () => copy(await call('reveal_secret', { id: ac.Id, field: s.Field }), s.Field)),
    );
    div.append(head);
    if (s.Jwt) {
      const claims = s.Jwt.Claims ?? s.Jwt.claims ?? {};
      const times = JWT_TIMES.filter((k) => typeof claims[k] === 'number')
        .map((k) => `${k} ${claims[k]} = ${new Date(claims[k] * 1000).toLocaleString()} (${span(claims[k] - Date.now() / 1000)})`);
      const v = s.Verification;
      if (v) {
        const trusted = v.Signature === 'valid' && !['invalid', 'expired', 'not yet valid'].some((bad) => [v.Issuer, v.Audience, v.Expiry, v.NotBefore, v.Type].includes(bad));
        div.append(el('div', `Verified offline: signature ${v.Signature}${v.Algorithm ? ` (${v.Algorithm})` : ''} · iss ${v.Issuer} · aud ${v.Audience} · exp ${v.Expiry} · nbf ${v.NotBefore}${v.Type !== 'not checked' ? ` · typ ${v.Type}` : ''}`, trusted ? 'verified ok' : 'verified warn'));
        for (const note of v.Notes || []) div.append(el('div', note, 'muted'));
        div.append(el('div', 'JWT claims (the signature above says whether to trust them):', 'muted'));
      } else {
        div.append(el('div', 'JWT claims (decoded, not verified):', 'muted'));
      }
      if (times.length) div.append(el('div', times.join('\n'), 'claims jwt-times'));
      div.append(el('pre', JSON.stringify(claims, null, 2), 'claims'));
    }
    parts.push(div);
  }
  if (i.Secrets.length === 0 && !i.SecretsUnavailable) parts.push(el('p', 'No credentials stored.', 'muted'));
  $('secrets').replaceChildren(...parts);
}

function tick() {
  const now = Date.now();
  // The open connector's token just ran out: its status may have changed (Expired), and
  // with it the counts; read again once.
  if (state.expiresAt && new Date(state.expiresAt).getTime() <= now && state.expiryReread !== state.expiresAt) {
    state.expiryReread = state.expiresAt;
    go.reload().catch(() => {});
  }
  for (const [cls, iso] of [['countdown', state.expiresAt], ['refresh-countdown', state.refreshExpiresAt]]) {
    const e = document.querySelector(`.${cls}`);
    if (!e) continue;
    e.textContent = iso ? `${when(iso)} (${span((new Date(iso).getTime() - now) / 1000)})` : '—';
  }
}
setInterval(tick, 1000);

// Credential forms, one per way to authenticate. Rendered when the account connector or
// its way changes, never by an update: what is typed stays.
function field(labelText, id, { type = 'text', placeholder = '' } = {}) {
  const label = el('label', labelText);
  label.htmlFor = id;
  const input = el('input');
  input.id = id;
  input.type = type;
  input.placeholder = placeholder;
  input.autocomplete = 'off';
  return [label, input];
}

/** The credential form's submit button. */
function saveButton(text) {
  const save = el('button', text);
  save.type = 'submit';
  save.id = 'save-credential';
  return save;
}

/** A password field with a Show/Hide button. */
function secretField(labelText, id, placeholder = '') {
  const [label, input] = field(labelText, id, { type: 'password', placeholder });
  const row = el('div', null, 'row');
  const toggle = el('button', 'Show', 'small');
  toggle.type = 'button';
  toggle.setAttribute('aria-label', `Show ${labelText}`);
  toggle.addEventListener('click', () => {
    input.type = input.type === 'password' ? 'text' : 'password';
    toggle.textContent = input.type === 'password' ? 'Show' : 'Hide';
  });
  row.append(input, toggle);
  return [label, row];
}

/** Text someone pasted where an API key belongs but that looks like JSON (tokens?). */
function looksLikeJson(text) {
  return /^\s*[[{]/.test(text) || /"[A-Za-z_]+"\s*:/.test(text);
}

export function renderCredentialForm(ac) {
  const type = ac.Authentication.AuthType;
  const key = `${ac.Id}:${type}`;
  if (state.credentialFormFor === key) return;
  state.credentialFormFor = key;
  const box = $('credential-form');
  const form = el('form', null, 'card stack');
  form.id = 'cred-form';
  if (type === 'ApiKey') {
    form.append(el('h3', ac.SecretsSet.length ? 'Replace the API key' : 'API key'),
      ...secretField('API key', 'cred-key'));
    const save = saveButton('Save API key');
    form.append(save);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(null, async () => {
        const key = $('cred-key').value;
        if (looksLikeJson(key) && !confirmed(save, 'Save it anyway (it looks like JSON)')) {
          toast('This looks like JSON (tokens?), not an API key. Check what you pasted; click again to save it as the key anyway.', { error: true });
          return;
        }
        save.disabled = true;
        try {
          await call('set_credential', { id: ac.Id, credential: { Kind: 'ApiKey', Key: key } });
        } finally {
          save.disabled = false;
        }
        $('cred-key').value = '';
        toast('API key saved. A successful method call verifies it.');
      });
    });
  } else if (type === 'Basic') {
    form.append(el('h3', ac.SecretsSet.length ? 'Replace the username and password' : 'Username and password'),
      ...field('Username', 'cred-username'), ...secretField('Password', 'cred-password'));
    const save = saveButton('Save credentials');
    form.append(save);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(save, async () => {
        await call('set_credential', {
          id: ac.Id,
          credential: { Kind: 'Basic', Username: $('cred-username').value, Password: $('cred-password').value },
        });
        $('cred-password').value = '';
        toast('Credentials saved (sent as HTTP Basic). A successful method call verifies them.');
      });
    });
  } else if (type === 'AuthFields') {
    // One input per field the connector declares (secret ones masked), all saved at once.
    const fields = ac.Authentication.AuthFields || [];
    form.append(el('h3', ac.SecretsSet.length ? 'Replace the auth fields' : 'Auth fields'));
    fields.forEach((f, i) => {
      const label = `${f.Name}${f.Description ? ` — ${f.Description}` : ''} (sent in the ${f.Placement})`;
      form.append(...(f.IsSecret ? secretField(label, `cred-field-${i}`) : field(label, `cred-field-${i}`)));
    });
    const save = saveButton('Save auth fields');
    form.append(save);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(save, async () => {
        const values = Object.fromEntries(fields.map((f, i) => [f.Name, $(`cred-field-${i}`).value]));
        await call('set_credential', { id: ac.Id, credential: { Kind: 'AuthFields', Values: values } });
        fields.forEach((f, i) => { if (f.IsSecret) $(`cred-field-${i}`).value = ''; });
        toast('Auth fields saved. A successful method call verifies them.');
      });
    });
  } else if (type === 'OAuth2') {
    const details = el('details');
    details.append(el('summary', 'Import tokens obtained elsewhere'));
    const inner = el('div', null, 'stack');
    inner.append(
      ...secretField('Access token', 'cred-access'),
      ...secretField('Refresh token', 'cred-refresh'),
      ...field('Expires (ISO 8601, e.g. 2030-01-01T00:00:00Z)', 'cred-expires'),
      ...field('Refresh token expires (optional)', 'cred-refresh-expires'),
    );
    const save = saveButton('Import tokens');
    inner.append(save);
    details.append(inner);
    form.append(details);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(save, async () => {
        await call('set_credential', {
          id: ac.Id,
          credential: {
            Kind: 'OAuth2',
            AccessToken: $('cred-access').value || null,
            RefreshToken: $('cred-refresh').value || null,
            Expires: $('cred-expires').value || null,
            RefreshExpires: $('cred-refresh-expires').value || null,
          },
        });
        for (const f of ['cred-access', 'cred-refresh', 'cred-expires', 'cred-refresh-expires']) $(f).value = '';
        toast('Tokens imported.');
      });
    });
  } else if (type === 'OAuth1') {
    // Token credentials obtained elsewhere, as a partner's AuthValue carries them.
    const details = el('details');
    details.append(el('summary', 'Import token credentials obtained elsewhere'));
    const inner = el('div', null, 'stack');
    inner.append(...secretField('Access token (oauth_token)', 'cred-access'), ...secretField('Token secret', 'cred-token-secret'));
    const save = saveButton('Import token credentials');
    inner.append(save);
    details.append(inner);
    form.append(details);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      act(save, async () => {
        const value = JSON.stringify({ AccessToken: $('cred-access').value, TokenSecret: $('cred-token-secret').value });
        await call('set_auth_value', { id: ac.Id, value });
        for (const f of ['cred-access', 'cred-token-secret']) $(f).value = '';
        toast('Token credentials imported.');
      });
    });
  }
  box.replaceChildren(...(form.childElementCount ? [form] : []));
}
