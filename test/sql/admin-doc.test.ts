// The worked session in docs/admin.md runs in psql as written, and leaves the state it describes.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freshDb } from '../helpers/db.ts';

const { sql, url } = await freshDb(t);

t.test('docs/admin.md: every ```sql block runs in one psql session without error', async (t) => {
  const doc = readFileSync(new URL('../../docs/admin.md', import.meta.url), 'utf8');
  const blocks = [...doc.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
  t.ok(blocks.length >= 8, `${blocks.length} sql blocks`);
  const r = spawnSync('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-f', '-'],
    { input: blocks.join('\n'), encoding: 'utf8' });
  t.equal(r.error, undefined, 'psql runs');
  t.equal(r.status, 0, `psql succeeds${r.stderr ? `: ${r.stderr}` : ''}`);

  const rows = await sql`
    select a.status, a.winner_id, a.current_price, a.seq, a.cancel_reason, u.name as winner
      from auction.auctions a left join auction.users u on u.id = a.winner_id order by a.created_at`;
  t.match(rows, [
    { status: 'ended', winner: 'Carol', current_price: '12.00', seq: 2 },
    { status: 'active', current_price: '61.00', seq: 3 },
    { status: 'cancelled', cancel_reason: 'seller withdrew the item', winner_id: null },
  ]);
  t.equal(rows.length, 3);
  const watch = await sql`select b.bidder, b.amount, b.kind from auction.bid_history b
    join auction.auctions a on a.id = b.auction_id where a.reserve_price is not null order by b.seq`;
  t.same(watch.map((b) => [b.bidder, b.amount, b.kind]), [['Bob', '20.00', 'proxy'], ['Carol', '60.00', 'bid'], ['Bob', '61.00', 'proxy']],
    "the proxy section: Bob's maximum answers Carol at once");
});
