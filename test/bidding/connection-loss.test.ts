import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';

// A bid whose connection dies mid-transaction may or may not have committed: it answers outcome_unknown
// (never internal), and a retry with the same request_id gets the real outcome.
const db = await freshDb(t);
// A cut connection is mostly noticed at once ("connection was lost"); now and then postgres.js leaves the query
// unsettled and this deadline answers instead ("did not answer in time"): outcome_unknown both ways.
const DEADLINE_MS = 3000;
const inst = await startInstance(t, db.url, { REQUEST_TIMEOUT_MS: String(DEADLINE_MS) });
const UNKNOWN = /connection was lost|did not answer in time/;

/** Holds the auction's row lock until released, so the service's statement waits on it; kills that backend. */
async function killWhileWaiting(auctionId: string, send: () => Promise<unknown>) {
  const lock = await db.sql.reserve();
  await lock`begin`;
  await lock`select 1 from auction.auctions where id = ${auctionId} for update`;
  const answer = send();
  let pid = 0;
  await until(async () => {
    const [w] = await db.sql<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`;
    pid = w?.pid ?? 0;
    return pid !== 0;
  }, 'the service\'s statement to wait on the row lock');
  await db.sql`select pg_terminate_backend(${pid})`;
  const r = await answer;
  await lock`rollback`;
  lock.release();
  return r;
}

t.test('place_bid over the socket: outcome_unknown, then the retry is accepted once', async (t) => {
  const seller = await connectClient(t, inst, 'loss-seller');
  const id = await seller.createAuction({ startingPrice: 10 });
  const bidder = await connectClient(t, inst, 'loss-bidder');
  const bid = { type: 'place_bid', auction_id: id, request_id: 'loss-1', data: { amount: 15 } };
  const lost = await killWhileWaiting(id, () => bidder.request(bid, 3 * DEADLINE_MS)) as { type: string; error?: { code: string; message: string } };
  t.match(lost, { type: 'error', request_id: 'loss-1', error: { code: 'outcome_unknown', message: UNKNOWN } });
  const retry = await bidder.request(bid);
  t.match(retry, { type: 'bid_accepted', data: { amount: 15 } });
  const again = await bidder.request(bid);
  t.match(again, { type: 'bid_accepted', data: { amount: 15, duplicate: true } });
  const [n] = await db.sql<{ n: number }[]>`select count(*)::int as n from auction.bids where auction_id = ${id}`;
  t.equal(n.n, 1, 'one bid stored');
});

t.test('buy-now over REST: 504 outcome_unknown, then the retry with the same Idempotency-Key buys', async (t) => {
  const seller = await connectClient(t, inst, 'loss-seller');
  const id = await seller.createAuction({ startingPrice: 10, buyNowPrice: 100 });
  const { token } = await tokenFor('loss-buyer');
  const buy = async () => {
    const res = await fetch(`${inst.http}/api/v1/auctions/${id}/buy-now`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'buy-1' } });
    return { status: res.status, body: await res.json() as any };
  };
  const lost = await killWhileWaiting(id, buy) as { status: number; body: unknown };
  t.equal(lost.status, 504);
  t.match(lost.body, { error: { code: 'outcome_unknown' } });
  const retry = await buy();
  t.ok(retry.status === 200 || retry.status === 201, `retry answered ${retry.status}`);
  const [a] = await db.sql<{ status: string }[]>`select status from auction.auctions where id = ${id}`;
  t.equal(a.status, 'ended');
});
