// A user at oidc-provider's device verification page (RFC 8628), over plain HTTP with a
// cookie jar: confirms (or aborts) the user code, then logs in and consents through
// devInteractions. The desktop end-to-end test approves device sign-ins with it.

const between = (text, start, end) => {
  const from = text.indexOf(start);
  if (from < 0) return null;
  const rest = text.slice(from + start.length);
  const to = rest.indexOf(end);
  return to < 0 ? null : rest.slice(0, to);
};

export async function approveDevice(verificationUriComplete, login, approve = true) {
  const jar = new Map();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  let url = new URL(verificationUriComplete);
  const userCode = url.searchParams.get('user_code');
  let form = null;
  for (let step = 0; step < 20; step++) {
    const init = { redirect: 'manual', headers: { cookie: cookie() } };
    if (form) {
      init.method = 'POST';
      init.headers['content-type'] = 'application/x-www-form-urlencoded';
      init.body = new URLSearchParams(form).toString();
    }
    form = null;
    const r = await fetch(url, init);
    for (const c of r.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const at = pair.indexOf('=');
      jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
    if (r.status >= 300 && r.status < 400) {
      url = new URL(r.headers.get('location'), url);
      continue;
    }
    const body = await r.text();
    if (body.includes('Sign-in Success') || (!approve && body.includes('was interrupted'))) return;
    const action = (between(body, 'action="', '"') || '').replaceAll('&amp;', '&');
    if (body.includes('name="xsrf"')) {
      form = { xsrf: between(body, 'name="xsrf" value="', '"'), user_code: between(body, 'name="user_code" value="', '"') || userCode };
      if (body.includes('op.deviceConfirmForm')) form[approve ? 'confirm' : 'abort'] = 'yes';
    } else if (body.includes('name="prompt" value="login"')) {
      form = { prompt: 'login', login, password: 'any password' };
    } else if (body.includes('name="prompt" value="consent"')) {
      form = { prompt: 'consent' };
    } else {
      throw new Error(`device page ${url} answered ${r.status}: ${body.slice(0, 300)}`);
    }
    url = new URL(action, url);
  }
  throw new Error(`the device approval did not end (last URL ${url})`);
}
