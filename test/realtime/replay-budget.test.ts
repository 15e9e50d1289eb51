import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance } from '../helpers/app.ts';
import { makeUser } from '../helpers/fixtures.ts';

const db = await freshDb(t);

t.test("a socket resubscribing with since_seq=0 in a loop is refused past its replay budget; others' live bids still arrive", async (t) => {
  const inst = await startInstance(t, db.url, { WS_REPLAY_ROWS_PER_SEC: '1', WS_REPLAY_BURST: '3000' });
  const seller = await connectClient(t, inst, 'seller-rb');
  const id = await seller.createAuction({ startingPrice: 1 });
  const u = await makeUser(db.sql);
  // a 3,000-bid log written in bulk with triggers off (superuser-only)
  await db.sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into auction.bids (auction_id, user_id, amount, seq) select ${id}, ${u}, g, g from generate_series(1, 3000) g`;
    await tx`update auction.auctions set seq = 3000, current_price = 3000, leader_max = 3000, high_bidder_id = ${u}, status = 'active',
             last_bid_at = clock_timestamp() where id = ${id}`;
  });
  const watcher = await connectClient(t, inst, 'watcher-rb');
  await watcher.request({ type: 'subscribe', auction_id: id });
  const abuser = await connectClient(t, inst, 'abuser-rb');
  const loops = 20;
  for (let i = 0; i < loops; i++) abuser.send({ type: 'subscribe', auction_id: id, request_id: `r${i}`, data: { since_seq: 0 } });
  const bidder = await connectClient(t, inst, 'bidder-rb');
  t.match(await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 5000 } }), { type: 'bid_accepted' });
  await watcher.next((m) => m.type === 'bid_placed' && m.seq === 3001);
  t.same(watcher.bids(id).map((m) => m.seq), [3001], 'the watcher got the live bid');
  await abuser.next((m) => m.request_id === `r${loops - 1}`, 30_000);
  const answers = abuser.messages.filter((m) => m.request_id?.startsWith('r'));
  t.equal(answers.length, loops, 'every subscribe was answered');
  t.match(answers[0], { type: 'auction_update', data: { subscribed: true } }, 'the first replay is served');
  const refused = answers.filter((m) => m.error?.code === 'rate_limited');
  t.equal(refused.length, loops - 1, 'the rest are refused');
  t.match(refused[0]!.error!.message, /replay budget spent: subscribe with since_seq again in \d+ s/);
  const replayed = abuser.bids(id).map((m) => m.seq!).filter((s) => s <= 3000);
  t.same(replayed, Array.from({ length: 3000 }, (_, i) => i + 1), 'one whole replay, in order, none repeated');
});
