import t from 'tap';
import WebSocket from 'ws';
import { freshDb } from '../helpers/db.ts';
import { Client, startInstance, tokenFor } from '../helpers/app.ts';
import { auctionInput } from '../helpers/fixtures.ts';
import { CLOSE } from '../../src/protocol/close-codes.ts';
import { clientFor } from './helpers.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);

t.test('a token provider refreshes in band before exp: the socket outlives the first token, no reconnect', async (t) => {
  const seller = await clientFor(t, inst.ws, 'refresh-seller');
  const id = (await seller.createAuction(auctionInput())).auction_id;
  const tokens: string[] = [];
  // 2 s tokens at first (exp has whole seconds, so 1-2 s left), then long ones
  const provider = async () => {
    const { token } = await tokenFor('refresh-bidder', { ttlSeconds: tokens.length < 2 ? 2 : 600 });
    tokens.push(token);
    return token;
  };
  const refreshed: number[] = [];
  const reconnects: boolean[] = [];
  const bidder = await clientFor(t, inst.ws, 'refresh-bidder', { token: provider });
  bidder.on('token_refreshed', (e) => refreshed.push(e.expiresAt));
  bidder.on('connected', (e) => reconnects.push(e.reconnect));
  const drops: number[] = [];
  const off = bidder.on('disconnected', (e) => drops.push(e.code));
  // a plain socket with the client's first token and no provider: its close marks that token's exp
  const control = new Client(new WebSocket(`${inst.ws}?token=${tokens[0]}`), 'control');
  t.teardown(() => control.ws.terminate());
  t.equal(await control.closed(5000), CLOSE.tokenExpired, 'the first token expired');
  t.ok(tokens.length >= 2, `the provider was asked again (${tokens.length} times)`);
  t.ok(refreshed.length >= 1, 'the server took a fresh token in band');
  t.equal(bidder.state, 'open');
  t.same(reconnects, [], 'no reconnect');
  t.same(drops, [], 'no disconnect');
  t.match(await bidder.bid(id, 10), { amount: 10 }, 'it still bids');
  off();
});

t.test('a static token is not refreshed: at exp the socket closes with 4001 and the client says why', async (t) => {
  const { token } = await tokenFor('refresh-static', { ttlSeconds: 2 });
  const c = await clientFor(t, inst.ws, 'refresh-static', { token, reconnect: false });
  const gone = await new Promise<{ code: number }>((resolve) => c.on('disconnected', resolve));
  t.equal(gone.code, CLOSE.tokenExpired);
});

t.test('a refresh the server refuses: closed with 4001 at exp, and the reconnect asks the provider for a fresh token', async (t) => {
  let calls = 0;
  // the second call (the in-band refresh) gives another user's token, which the server refuses
  const provider = async () => (await tokenFor(++calls === 2 ? 'refresh-someone-else' : 'refresh-fallback', { ttlSeconds: calls === 1 ? 2 : 600 })).token;
  const c = await clientFor(t, inst.ws, 'refresh-fallback', { token: provider });
  const refused = new Promise<{ code: string }>((resolve) => c.on('error', resolve));
  const gone = new Promise<{ code: number }>((resolve) => c.on('disconnected', resolve));
  const back = new Promise<{ reconnect: boolean }>((resolve) => c.on('connected', resolve));
  t.match(await refused, { code: 'subject_mismatch' }, 'the client reports the refused refresh');
  t.equal((await gone).code, CLOSE.tokenExpired);
  t.same(await back, { reconnect: true });
  t.equal(calls, 3, 'the reconnect used a fresh token from the provider');
  t.match(await c.ping(), Number);
});
