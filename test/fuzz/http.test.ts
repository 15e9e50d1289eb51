import t from 'tap';
import fc from 'fast-check';
import { freshDb } from '../helpers/db.ts';
import { startInstance, tokenFor } from '../helpers/app.ts';
import { inSeconds } from '../helpers/fixtures.ts';
import { bidRejection, errorBody } from '../../src/protocol/views.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const { token } = await tokenFor('http-fuzzer');
const seller = await tokenFor('http-seller');
const created = await (await fetch(`${inst.http}/api/v1/auctions`, { method: 'POST',
  headers: { authorization: `Bearer ${seller.token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ item: { name: 'Fuzz' }, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 1 }) })).json() as { auction_id: string };

const nasty = fc.oneof(fc.constantFrom(null, true, '', 'NaN', '1e309', -0, 1e21, 0.1 + 0.2, '601.50', '１２'), fc.double(), fc.integer(), fc.string({ maxLength: 20 }), fc.object({ maxDepth: 1 }));
const bodies = fc.oneof(
  fc.record({ amount: nasty }).map((o) => JSON.stringify(o)),
  fc.record({ item: fc.record({ name: nasty }), start_time: nasty, end_time: nasty, starting_price: nasty, min_increment: nasty, item_id: nasty }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
);
const paths = fc.constantFrom(`/api/v1/auctions/${created.auction_id}/bids`, '/api/v1/auctions', '/api/v1/items', `/api/v1/auctions/${created.auction_id}x/bids`);

/** An error in the API's shape (a bid rejection adds its fields), with a plain one-line message. */
const isApiError = (json: unknown) => {
  const e = errorBody.safeParse(json).data ?? bidRejection.safeParse(json).data;
  return e !== undefined && !/[\n✖→]/.test(e.error.message);
};

t.test("random HTTP bodies: always a JSON answer, success or the API's error shape, never a 500", async (t) => {
  let n = 0;
  await fc.assert(fc.asyncProperty(paths, bodies, fc.option(fc.string({ maxLength: 200 })), async (path, body, key) => {
    n++;
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    if (key !== null && /^[\x21-\x7e]*$/.test(key)) headers['idempotency-key'] = key;
    const res = await fetch(`${inst.http}${path}`, { method: 'POST', headers, body });
    const json = await res.json();
    if (res.status >= 500) return false;
    return res.status < 300 || isApiError(json);
  }), { numRuns: 300 });
  t.comment(`${n} bodies tried`);
  t.equal((await fetch(`${inst.http}/ready`)).status, 200, 'still ready');
});
