// Webhooks in Settings: the endpoints (Remove), adding one (its signing secret shown once),
// and the latest delivery attempts.
// Must not: show a secret but the new endpoint's, once.

import {
  call, $, el, button, toast, act, copy, fill, when, confirmed,
} from '../shared.js';

const EVENTS = ['authenticated', 'refresh_failed', 'recovered', 'needs_reauthentication', 'disconnected', 'deleted'];

// The event checkboxes, made once.
$('webhook-events').append(...EVENTS.map((e) => {
  const label = el('label');
  const box = el('input');
  box.type = 'checkbox';
  box.value = `account_connector.${e}`;
  box.id = `webhook-event-${e}`;
  label.append(box, ` ${e.replace(/_/g, ' ')}`);
  return label;
}));

export async function loadWebhooks() {
  const list = await call('webhooks');
  $('webhooks').replaceChildren(...list.map((w) => {
    const li = el('li');
    const scope = w.AccountId ? `account ${w.AccountId}` : 'all accounts';
    const events = w.Events.length === EVENTS.length ? 'every event' : w.Events.map((e) => e.replace('account_connector.', '')).join(', ');
    li.append(el('span', `${w.Url} · ${scope} · ${events}`));
    const remove = button('Remove', 'small danger', () => act(remove, async () => {
      if (!confirmed(remove, 'Click again: nothing more is sent there')) return;
      await call('remove_webhook', { id: w.Id });
      toast('Webhook endpoint removed.');
      await loadWebhooks();
    }));
    li.append(remove);
    return li;
  }));
  if (list.length === 0) $('webhooks').append(el('li', 'No endpoints yet.', 'muted'));
  const attempts = await call('webhook_deliveries');
  fill($('webhook-deliveries').tBodies[0], attempts.map((d) => {
    const tr = el('tr');
    const answer = d.Error || (d.StatusCode ? `HTTP ${d.StatusCode}` : '—');
    tr.append(el('td', when(d.At)), el('td', d.Type.replace('account_connector.', '')), el('td', answer), el('td', d.NextRetryAt ? when(d.NextRetryAt) : '—'));
    return tr;
  }), 4);
}

$('webhook-form').addEventListener('submit', (e) => {
  e.preventDefault();
  act($('add-webhook'), async () => {
    const made = await call('add_webhook', {
      url: $('webhook-url').value.trim(),
      accountId: $('webhook-account').value.trim() || null,
      events: [...document.querySelectorAll('#webhook-events input:checked')].map((b) => b.value),
      allowLoopback: $('webhook-loopback').checked,
      allowPrivate: $('webhook-private').checked,
    });
    $('webhook-url').value = '';
    $('new-webhook-secret').textContent = made.Secret;
    $('webhook-secret').hidden = false;
    toast('Webhook endpoint added: copy its signing secret now.');
    await loadWebhooks();
  });
});
$('copy-webhook-secret').addEventListener('click', () => act($('copy-webhook-secret'), () => copy($('new-webhook-secret').textContent, 'The signing secret')));
