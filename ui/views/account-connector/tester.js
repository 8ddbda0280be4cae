// The Method tester tab: pick a connector method, type its parameters, call it with the
// stored auth applied, see the response. What is typed is kept per account connector and
// method; a result is shown only with the method it came from.
// Must not: show a result under another method or account connector.

import {
  call, $, state, el, errorText, act,
} from '../../shared.js';

// The method tester: what is typed is kept per account connector and method; a result is
// shown only with the method it came from.
export function renderMethods() {
  const select = $('tester-method');
  const current = select.value;
  select.replaceChildren(...state.methods.map((m) => {
    const o = el('option', `${m.Name} — ${m.HttpMethod} ${m.Path}`);
    o.value = m.Id;
    return o;
  }));
  if (state.methods.some((m) => m.Id === current)) select.value = current;
  $('run-method').disabled = state.methods.length === 0;
  renderParams();
}

function paramKey() {
  return `${state.ac}:${$('tester-method').value}`;
}

function renderParams() {
  const m = state.methods.find((x) => x.Id === $('tester-method').value);
  $('tester-description').textContent = m ? m.Description : (state.methods.length ? '' : 'This connector has no methods.');
  const key = paramKey();
  const typed = state.params[key] || (state.params[key] = {});
  const box = $('tester-params');
  box.replaceChildren(...(m ? m.Parameters : []).flatMap((p) => {
    const id = `param-${p.Name}`;
    const label = el('label', `${p.Name}${p.Required ? ' *' : ''}`);
    label.htmlFor = id;
    const input = el('input');
    input.id = id;
    input.name = p.Name;
    input.placeholder = `${p.Location}${p.Required ? ', required' : ''}${p.Description ? ` — ${p.Description}` : ''}`;
    input.required = p.Required;
    input.value = typed[p.Name] ?? '';
    input.addEventListener('input', () => { typed[p.Name] = input.value; });
    return [label, input];
  }));
  $('tester-result').hidden = state.resultFor !== key;
}
$('tester-method').addEventListener('change', renderParams);

$('tester').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('run-method'), async () => {
    const parameters = {};
    for (const input of $('tester-params').querySelectorAll('input')) {
      if (input.value !== '') parameters[input.name] = input.value;
    }
    const key = paramKey();
    const out = $('tester-result');
    state.resultFor = key;
    out.hidden = false;
    out.textContent = 'Running…';
    try {
      const r = await call('call_method', { id: state.ac, method: $('tester-method').value, parameters });
      const headers = Object.entries(r.Headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      const body = typeof r.Body === 'string' ? r.Body : JSON.stringify(r.Body, null, 2);
      if (state.resultFor === key) out.textContent = `HTTP ${r.Status}\n${headers}\n\n${body}`;
    } catch (err) {
      if (state.resultFor === key) out.textContent = errorText(err);
      throw err;
    }
  });
});
