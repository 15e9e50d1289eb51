import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { startInstance, tokenFor } from '../helpers/app.ts';

const db = await freshDb(t);
const shop = 'https://shop.example';
const listed = await startInstance(t, db.url, { ALLOWED_ORIGINS: `${shop}, https://admin.example` });
const closed = await startInstance(t, db.url);
const { token } = await tokenFor('cors-user');

/** A browser's preflight for a JSON bid with an Idempotency-Key. */
function preflight(base: string, origin: string) {
  return fetch(`${base}/api/v1/auctions/00000000-0000-4000-8000-000000000000/bids`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
  });
}

t.test('a listed origin passes the preflight and may read the answer', async (t) => {
  const res = await preflight(listed.http, shop);
  t.equal(res.status, 204);
  t.equal(res.headers.get('access-control-allow-origin'), shop);
  t.match(res.headers.get('access-control-allow-methods'), /POST/);
  t.match(res.headers.get('access-control-allow-headers')?.toLowerCase(), /authorization.*content-type.*idempotency-key/);
  t.equal(res.headers.get('access-control-max-age'), '600');
  t.match(res.headers.get('vary'), /Origin/);
  t.equal(res.headers.get('access-control-allow-credentials'), null, 'bearer tokens, not cookies');

  const get = await fetch(`${listed.http}/api/v1/auctions`, { headers: { origin: shop, authorization: `Bearer ${token}` } });
  t.equal(get.status, 200);
  t.equal(get.headers.get('access-control-allow-origin'), shop);
});

t.test('another origin gets no CORS grant', async (t) => {
  const res = await preflight(listed.http, 'https://evil.example');
  t.equal(res.status, 204);
  t.equal(res.headers.get('access-control-allow-origin'), null, 'the browser refuses the call');
  const get = await fetch(`${listed.http}/api/v1/auctions`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${token}` } });
  t.equal(get.headers.get('access-control-allow-origin'), null);
});

t.test('with no ALLOWED_ORIGINS, no other origin is granted; the same origin needs no grant', async (t) => {
  for (const origin of [shop, closed.http]) {
    const res = await preflight(closed.http, origin);
    t.equal(res.status, 204);
    t.equal(res.headers.get('access-control-allow-origin'), null, `none for ${origin}`);
  }
  const same = await fetch(`${closed.http}/api/v1/auctions`, { headers: { origin: closed.http, authorization: `Bearer ${token}` } });
  t.equal(same.status, 200, 'a same-origin call works without CORS');
});
