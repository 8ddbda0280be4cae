// The Properties tab: one row per property the connector declares (plus ClientId,
// ClientSecret and RedirectUri for OAuth), set, replaced or removed one at a time.
// Must not: offer a free-form property name, or show a secret property's value.

import {
  call, $, el, button, toast, act, preserving,
} from '../../shared.js';

// Properties: one row per declared property, its description, a required marker, and a
// secret input where the definition says so. Names cannot be mistyped: there is no name
// field.
const OAUTH_PROPERTIES = [
  { name: 'ClientId', description: "This connection's own OAuth app (overrides the library's).", secret: false },
  { name: 'ClientSecret', description: 'The secret of that OAuth app.', secret: true },
  { name: 'RedirectUri', description: "The redirect URI that app registered, if not the local API's callback.", secret: false },
];

function declaredProperties(ac, detail) {
  const def = detail.Definition;
  const list = (def.properties || []).map((p) => ({ ...p }));
  const oauth = [def.auth, ...(def.auth_methods || []).map((m) => m.auth)].some((a) => a && (a.type === 'oauth2' || a.type === 'oauth1'));
  if (oauth) for (const p of OAUTH_PROPERTIES) if (!list.some((x) => x.name === p.name)) list.push({ ...p, required: false });
  return list;
}

export function renderProperties(ac, detail) {
  const box = $('properties');
  preserving(box, () => {
    const declared = declaredProperties(ac, detail);
    const rows = declared.map((p) => {
      const stored = ac.Properties.find((x) => x.Name === p.name);
      const div = el('div', null, 'prop-row');
      div.dataset.property = p.name;
      const head = el('div', null, 'row');
      head.append(el('strong', p.name));
      if (p.required) head.append(el('span', 'required', 'required'));
      head.append(el('span', stored ? (stored.IsSecret ? '•••• set' : `= ${stored.Value}`) : 'not set', 'muted'));
      div.append(head);
      if (p.description) div.append(el('div', p.description, 'muted'));
      const form = el('form', null, 'row');
      const input = el('input');
      input.type = p.secret ? 'password' : 'text';
      input.autocomplete = 'off';
      input.dataset.draft = `${ac.Id}:prop:${p.name}`;
      input.setAttribute('aria-label', p.name);
      input.placeholder = stored && p.secret ? 'type to replace the stored value' : (p.example ? `e.g. ${p.example}` : '');
      const save = el('button', stored ? 'Replace' : 'Set', 'small');
      save.type = 'submit';
      form.append(input, save);
      if (stored) form.append(button('Remove', 'small danger', async () => {
        await call('remove_property', { id: ac.Id, name: p.name });
        toast(`${p.name} removed.`);
      }));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act(save, async () => {
          await call('set_property', { id: ac.Id, name: p.name, value: input.value });
          input.value = '';
          toast(`${p.name} saved.`);
        });
      });
      div.append(form);
      return div;
    });
    // Stored under a name the definition no longer declares: can only be removed.
    for (const stored of ac.Properties.filter((x) => !declared.some((p) => p.name === x.Name))) {
      const div = el('div', null, 'prop-row');
      div.append(el('strong', stored.Name), el('span', ' — not declared by this connector', 'muted'),
        button('Remove', 'small danger', async () => { await call('remove_property', { id: ac.Id, name: stored.Name }); }));
      rows.push(div);
    }
    if (ac.MissingProperties.length) rows.unshift(el('p', `Required and missing: ${ac.MissingProperties.join(', ')}`, 'note'));
    if (!rows.length) rows.push(el('p', 'This connector declares no properties.', 'muted'));
    box.replaceChildren(...rows);
  });
}

export function focusProperty(name) {
  const row = [...document.querySelectorAll('#properties .prop-row')].find((r) => r.dataset.property === name);
  if (row) row.querySelector('input').focus();
}
