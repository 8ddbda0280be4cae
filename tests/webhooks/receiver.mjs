// A webhook receiver for Authdesk's tests: every POST to /hook is verified with the
// Standard Webhooks library (npm `standardwebhooks`, the specification's reference
// implementation) under the secret given to /__secret; verified deliveries are kept in
// order, refused ones counted. /__mode switches it: `up` (204), `down` (503), `redirect`
// (307 to /elsewhere, which counts what reaches it: a sender that follows redirects shows
// there). `listening <base>` is the first line on stdout; with EXIT_WITH_STDIN=1 it exits
// when its stdin closes.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

let secret = null;
let mode = 'up';
const received = [];
let refused = 0;
let elsewhere = 0;

const body = (req) => new Promise((resolve) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
});
const json = (res, status, value) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

const server = http.createServer(async (req, res) => {
  const text = await body(req);
  const path = req.url.split('?')[0];
  if (path === '/__secret') { secret = text.trim(); return json(res, 200, {}); }
  if (path === '/__mode') { mode = text.trim(); return json(res, 200, { mode }); }
  if (path === '/__received') return json(res, 200, { received, refused, elsewhere });
  if (path === '/elsewhere') { elsewhere += 1; return json(res, 200, {}); }
  if (path !== '/hook' || req.method !== 'POST') return json(res, 404, {});
  if (mode === 'down') return json(res, 503, { error: 'down for now' });
  if (mode === 'redirect') {
    res.writeHead(307, { location: '/elsewhere' });
    return res.end();
  }
  try {
    const event = new Webhook(secret).verify(text, {
      'webhook-id': req.headers['webhook-id'],
      'webhook-timestamp': req.headers['webhook-timestamp'],
      'webhook-signature': req.headers['webhook-signature'],
    });
    received.push({ id: req.headers['webhook-id'], event });
    res.writeHead(204);
    return res.end();
  } catch (e) {
    refused += 1;
    return json(res, 400, { error: String(e.message || e) });
  }
});

if (process.env.EXIT_WITH_STDIN === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
