// The Method tester tab: pick a connector method, type its parameters, call it with the
// stored auth applied, see the response. What is typed is kept per account connector and
// method; a result is shown only with the method it came from. Below it, the free-form
// request (any method, path or URL on the connector's hosts, headers, body: send_request).
// An MCP server connector lists its tools here (HttpMethod TOOL): their arguments are typed
// as the tool's input schema says and the result is the tool's content.
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
    const o = el('option', m.HttpMethod === 'TOOL' ? `${m.Name} — MCP tool` : `${m.Name} — ${m.HttpMethod} ${m.Path}`);
    o.value = m.Id;
    return o;
  }));
  if (state.methods.some((m) => m.Id === current)) select.value = current;
  $('run-method').disabled = state.methods.length === 0;
  $('free-result').hidden = state.freeResultFor !== state.ac;
  renderParams();
}

// "HTTP 200", the kept headers, then the body (pretty JSON when it is JSON); for an MCP
// tool, its content blocks (text as it is), marked when the tool reported an error.
function responseText(r) {
  if (Array.isArray(r.content)) {
    const blocks = r.content.map((b) => (b.type === 'text' ? b.text : JSON.stringify(b, null, 2)));
    if (r.structuredContent) blocks.push(JSON.stringify(r.structuredContent, null, 2));
    return `${r.isError ? 'The tool reported an error:\n' : ''}${blocks.join('\n')}`;
  }
  const headers = Object.entries(r.Headers).map(([k, v]) => `${k}: ${v}`).join('\n');
  const body = typeof r.Body === 'string' ? r.Body : JSON.stringify(r.Body, null, 2);
  return `HTTP ${r.Status}\n${headers}\n\n${body}`;
}

// Runs `send` with `out` showing it for `key` only (another connector or method opened
// meanwhile keeps its own result).
async function showIn(out, key, current, send) {
  out.hidden = false;
  out.textContent = 'Running…';
  try {
    const r = await send();
    if (current() === key) out.textContent = responseText(r);
  } catch (err) {
    if (current() === key) out.textContent = errorText(err);
    throw err;
  }
}

function paramKey() {
  return `${state.ac}:${$('tester-method').value}`;
}

function renderParams() {
  const m = state.methods.find((x) => x.Id === $('tester-method').value);
  const none = state.methodsError || 'This connector has no methods.';
  $('tester-description').textContent = m ? m.Description : (state.methods.length ? '' : none);
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
    const method = $('tester-method').value;
    const m = state.methods.find((x) => x.Id === method);
    const parameters = {};
    for (const input of $('tester-params').querySelectorAll('input')) {
      if (input.value === '') continue;
      const kind = m?.Parameters.find((p) => p.Name === input.name)?.Kind || 'string';
      parameters[input.name] = typed(input.name, input.value, kind);
    }
    const key = paramKey();
    state.resultFor = key;
    const id = state.ac;
    const send = m?.HttpMethod === 'TOOL'
      ? () => call('mcp_call', { id, tool: method, arguments: parameters })
      : () => call('call_method', { id, method, parameters });
    await showIn($('tester-result'), key, () => state.resultFor, send);
  });
});

// A tool's argument as its schema types it (a method's parameters stay strings).
function typed(name, value, kind) {
  if (kind === 'string') return value;
  if (kind === 'boolean') return value.trim().toLowerCase() === 'true';
  if (kind === 'number' || kind === 'integer') {
    const n = Number(value);
    if (Number.isNaN(n)) throw new Error(`${name} must be a number.`);
    return n;
  }
  try {
    return JSON.parse(value);
  } catch {
    throw new Error(`${name} must be JSON (${kind}).`);
  }
}

// Agents' free-form request tool on this account connector: on or off.
$('agent-request-tool').addEventListener('change', (e) => {
  const box = e.target;
  act(box, async () => {
    box.checked = await call('set_mcp_request_tool', { id: state.ac, on: box.checked });
  });
});

// The free-form request: headers are "Name: value" lines; a line without ":" is refused
// here, naming it, before anything is sent.
$('free-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('send-request'), async () => {
    const headers = [];
    for (const [n, line] of $('free-headers').value.split('\n').entries()) {
      if (!line.trim()) continue;
      const at = line.indexOf(':');
      // Not repeated: it may be a pasted secret.
      if (at <= 0) throw new Error(`Header line ${n + 1} is not "Name: value".`);
      headers.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
    }
    const body = $('free-body').value;
    const request = {
      Method: $('free-method').value,
      Target: $('free-target').value.trim(),
      Headers: headers,
      Body: body === '' ? null : body,
    };
    const id = state.ac;
    state.freeResultFor = id;
    // A late answer lands in its own connector's result, hidden while another is open.
    await showIn($('free-result'), id, () => state.freeResultFor, () => call('send_request', { id, request }));
  });
});
