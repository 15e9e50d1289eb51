import t from 'tap';
import postgres from 'postgres';
import { randomBytes } from 'node:crypto';
import { ensureRole, SERVICE_ROLE } from '../../src/db/roles.ts';
import { connectClient, startInstance } from '../helpers/app.ts';

const OWNER_ROLE = 'auction_owner';
const adminUrl = process.env.TEST_ADMIN_URL!;

function urlAs(role: string, password: string, db: string) {
  const u = new URL(adminUrl);
  u.username = role;
  u.password = password;
  u.pathname = `/${db}`;
  return u.toString();
}

t.test('the service runs as a role that calls the functions but cannot write the tables', async (t) => {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  t.teardown(() => admin.end());
  const [ownerPw, servicePw] = [randomBytes(12).toString('hex'), randomBytes(12).toString('hex')];
  await ensureRole(admin, OWNER_ROLE, ownerPw);
  await ensureRole(admin, SERVICE_ROLE, servicePw);
  const name = `t_roles_${process.pid}_${randomBytes(3).toString('hex')}`;
  await admin.unsafe(`create database ${name} owner ${OWNER_ROLE}`);
  t.teardown(() => admin.unsafe(`drop database if exists ${name} with (force)`));
  const serviceUrl = urlAs(SERVICE_ROLE, servicePw, name);

  // the full path: the owner migrates and installs pg-boss, the pool connects as the service role
  const inst = await startInstance(t, serviceUrl, { DATABASE_OWNER_URL: urlAs(OWNER_ROLE, ownerPw, name), JOB_POLL_SECONDS: '0.5' });
  t.same(await inst.app.pg.sql`select current_user::text as u`, [{ u: SERVICE_ROLE }], 'the pool is the service role');

  const seller = await connectClient(t, inst, 'seller');
  const bidder = await connectClient(t, inst, 'bidder');
  const id = await seller.createAuction({ startsIn: -1, endsIn: 3 }); // create_auction and its pg-boss jobs
  t.match(await seller.request({ type: 'subscribe', auction_id: id }), { type: 'auction_update' });
  t.match(await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 10 } }), { type: 'bid_accepted', seq: 1 });
  t.match(await seller.next((m) => m.type === 'bid_placed' && m.auction_id === id), { seq: 1 }, 'LISTEN delivers as the service role');
  t.match(await seller.next((m) => m.type === 'auction_ended' && m.auction_id === id, 15_000), { auction_id: id },
    'the end job ran as the service role');

  const svc = postgres(serviceUrl, { max: 1, onnotice: () => {} });
  t.teardown(() => svc.end());
  await t.rejects(svc`update auction.auctions set current_price = 1000 where id = ${id}`, { code: '42501' }, 'no UPDATE on auctions');
  await t.rejects(svc`delete from auction.bids`, { code: '42501' }, 'no DELETE on bids');
  await t.rejects(svc`insert into auction.users (id, name) values (gen_random_uuid(), 'x')`, { code: '42501' }, 'no INSERT either');
  await t.rejects(svc`select auction.cancel_auction(${id}, 'mine now')`, { code: '42501' }, 'operator functions are the owner\'s');
  t.same((await svc`select count(*)::int as n from auction.bids where auction_id = ${id}`)[0].n, 1, 'reads what it needs');
  const own = postgres(urlAs(OWNER_ROLE, ownerPw, name), { max: 1, onnotice: () => {} });
  t.teardown(() => own.end());
  t.same(await own`select nspname::text as s, nspowner::regrole::text as o from pg_namespace where nspname in ('auction', 'pgboss') order by 1`,
    [{ s: 'auction', o: OWNER_ROLE }, { s: 'pgboss', o: OWNER_ROLE }], 'the owner owns both schemas');
});
