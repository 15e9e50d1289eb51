import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { CLOSE } from '../../src/protocol/close-codes.ts';

// Tokens here live 1-2 s (JWT exp has whole seconds): the tests wait for the close, never for a timer.
const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const seller = await connectClient(t, inst, 'expiry-seller');

t.test('a socket is closed with 4001 at its token\'s exp; a bid before then is accepted', async (t) => {
  const id = await seller.createAuction({ item: { name: 'Short lived' }, startingPrice: 1 });
  const c = await connectClient(t, inst, 'expiry-bidder', { ttlSeconds: 2 });
  t.match(await c.request({ type: 'place_bid', auction_id: id, data: { amount: 5 } }), { type: 'bid_accepted' });
  t.equal(await c.closed(5000), CLOSE.tokenExpired, 'closed with token_expired (4001)');
});

t.test('authenticate with a fresh token for the same user keeps the socket open past the first exp', async (t) => {
  const id = await seller.createAuction({ item: { name: 'Renewed' }, startingPrice: 1 });
  const renewed = await connectClient(t, inst, 'expiry-renewer', { ttlSeconds: 2 });
  // same user, same short token lifetime, no renewal: its close marks the first token's exp
  const control = await connectClient(t, inst, 'expiry-renewer', { ttlSeconds: 2 });
  const fresh = await tokenFor('expiry-renewer', { ttlSeconds: 600 });
  const reply = await renewed.request({ type: 'authenticate', data: { token: fresh.token } });
  t.equal(reply.type, 'authenticated');
  t.ok(Date.parse(reply.data.expires_at) > Date.now() + 500_000, 'expires_at is the new token\'s exp');
  t.equal(await control.closed(5000), CLOSE.tokenExpired, 'the socket that did not renew closed at exp');
  await renewed.settled();
  t.equal(renewed.closeCode, undefined, 'the renewed socket is open');
  t.match(await renewed.request({ type: 'place_bid', auction_id: id, data: { amount: 5 } }), { type: 'bid_accepted' });
});

t.test('authenticate refuses another user\'s token and invalid tokens, and keeps the old exp', async (t) => {
  const c = await connectClient(t, inst, 'expiry-victim', { ttlSeconds: 2 });
  const other = await tokenFor('expiry-other', { ttlSeconds: 600 });
  t.match(await c.request({ type: 'authenticate', data: { token: other.token } }),
    { type: 'error', error: { code: 'subject_mismatch' } }, 'another subject');
  t.match(await c.request({ type: 'authenticate', data: { token: 'not-a-jwt' } }),
    { type: 'error', error: { code: 'invalid_token' } }, 'garbage');
  const forged = await tokenFor('expiry-victim', { ttlSeconds: 600, secret: 'another-secret-another-secret-0123456789' });
  t.match(await c.request({ type: 'authenticate', data: { token: forged.token } }),
    { type: 'error', error: { code: 'invalid_token' } }, 'signed with another key');
  t.match(await c.request({ type: 'authenticate', data: {} }), { type: 'error', error: { code: 'invalid_message' } }, 'no token');
  t.equal(await c.closed(5000), CLOSE.tokenExpired, 'still closed at the first token\'s exp');
});
