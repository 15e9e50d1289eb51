// The README's copy-paste session, replayed line by line through the bundled client (npm run client) against a
// real instance: what each terminal types comes from README.md itself, so the README and this test cannot drift.
import t, { type Test } from 'tap';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { freshDb } from './helpers/db.ts';
import { startInstance, TEST_SECRET } from './helpers/app.ts';

type Terminal = { user: string; lines: string[]; expect: string[] };

/** The sh block after "A session against `make run`": one terminal per `npm run client -- <user>`. */
function readmeSession(): Terminal[] {
  const readme = readFileSync(resolve('README.md'), 'utf8');
  const block = /A session against `make run`[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no session block');
  const terminals: Terminal[] = [];
  for (const line of block.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const client = /^npm run client -- (\S+)/.exec(line);
    if (client) terminals.push({ user: client[1], lines: [], expect: [] });
    else if (line.startsWith('# ->')) terminals.at(-1)!.expect.push(line.slice(4).trim());
    else if (!line.startsWith('#')) terminals.at(-1)!.lines.push(line);
  }
  return terminals;
}

/** `npm run client -- <user> <url>` as a child; each stdout line is one server message. */
function client(t: Test, user: string, url: string) {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [resolve('src/cli/ws-client.ts'), user, url], {
    env: { PATH: process.env.PATH!, JWT_SECRET: TEST_SECRET },
  });
  t.teardown(() => { child.kill(); });
  const got: Record<string, any>[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      got.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
      for (const w of waiters.splice(0)) w();
    }
  });
  const until = (pred: (m: Record<string, any>) => boolean) => new Promise<Record<string, any>>((done, fail) => {
    const check = () => {
      const m = got.find(pred);
      if (m) return done(m);
      if (child.exitCode !== null) return fail(new Error(`${user}'s client exited; got ${JSON.stringify(got)}`));
      waiters.push(check);
    };
    check();
  });
  return { type: (line: string) => child.stdin.write(line + '\n'), until, got };
}

const { url } = await freshDb(t);
const inst = await startInstance(t, url);
const [alice, bob] = readmeSession();

t.test('the README session gives what it shows', async (t) => {
  t.same([alice.user, bob.user], ['alice', 'bob'], 'two terminals: alice sells, bob bids');
  t.match(alice.expect.join(' '), /auction_created/, 'the README promises auction_created');
  t.match(bob.expect.join(' '), /bid_accepted.*bid_placed \{seq: 1, amount: 12\.5\}/, 'and bid_accepted, then bid_placed seq 1 at 12.5');

  const seller = client(t, alice.user, inst.ws);
  for (const line of alice.lines) seller.type(line);
  const created = await seller.until((m) => m.type === 'auction_created');
  t.ok(Date.parse(created.data.start_time) <= Date.now(), 'no start_time given: the auction starts now');
  const id = created.auction_id as string;

  const bidder = client(t, bob.user, inst.ws);
  const [sub, ...bids] = bob.lines.map((l) => l.replaceAll('<id>', id));
  bidder.type(sub);
  t.equal((await bidder.until((m) => m.type === 'auction_update')).data.subscribed, true, 'bob is subscribed');
  for (const line of bids) bidder.type(line);
  const accepted = await bidder.until((m) => m.type === 'bid_accepted' || m.type === 'bid_rejected' || m.type === 'error');
  if (!t.equal(accepted.type, 'bid_accepted', `bob's bid is accepted (${JSON.stringify(accepted.error ?? '')})`)) return;
  const placed = await bidder.until((m) => m.type === 'bid_placed');
  t.match(placed, { auction_id: id, seq: 1, data: { seq: 1, amount: 12.5 } }, 'bid_placed {seq: 1, amount: 12.5} reaches the subscriber');
});
