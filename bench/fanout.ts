// The fan-out scenario: one auction, N subscribers over two servers, a bidder at a fixed rate. Run for the service
// and, with the same N, rates and watchers' way of timing, for its anchors: a bare `ws` broadcast of the same
// frames (the floor) and Socket.IO with @socket.io/postgres-adapter (the peer).
import { Hist, sleep, type BidResult, type Child, type ChildMsg, type HistJson } from './lib.ts';
import { machineTicks, type BenchDb } from './databases.ts';
import { child, startProcess, startServer, watchers, type Server } from './processes.ts';
import { ANCHORS, S } from './settings.ts';
import { f0, f1, ms, pc, ratio, report, table, verdicts } from './report.ts';

type System = 'service' | 'floor' | 'peer';
const SYSTEMS: Record<System, string> = {
  service: 'service',
  floor: 'bare ws floor',
  peer: 'Socket.IO + postgres-adapter',
};

type FanoutRow = { system: System; n: number; rate: number; connected: number; failed: number; firstError?: string; setupS: number; sent: number; accepted: number;
  deliveries: number; expected: number; deliverS: number; bidS: number; p50: number; p99: number; max: number; lost: number; busy: number; serverCpu: number; serverP99: string;
  serverSys: number; cpuPerDelivery: number; loadCpu: number; loop: string; bidP99: number };

/** The bucket bound under which 99% of this instance's commit→broadcast lags fell (prom-client cumulative buckets). */
function lagP99(before: ChildMsg, after: ChildMsg) {
  if (!before.lag || !after.lag) return '–'; // an anchor's server has no such histogram
  const num = (le: string) => (le === '+Inf' ? Infinity : Number(le));
  const b = new Map((before.lag as [string, number][]).map(([le, c]) => [num(le), c]));
  const rows = (after.lag as [string, number][]).map(([le, c]) => [num(le), c - (b.get(num(le)) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  const total = rows.at(-1)?.[1] ?? 0;
  if (!total) return '–';
  const hit = rows.find(([, c]) => c >= 0.99 * total)!;
  return hit[0] === Infinity ? '> 2.5 s' : `≤ ${hit[0] * 1000} ms`;
}

/** Percentile over the deliveries that came plus those that did not (counted as later than any that did). */
function pctWithMissing(h: Hist, p: number, missing: number) {
  const want = Math.ceil((p / 100) * (h.n + missing));
  return want > h.n ? Infinity : h.pct((want / h.n) * 100);
}

/** A bid_placed message as the service sent it: the anchors send it as is, with a fresh time. */
let sample: string | undefined;

type Setup = { a: Server; b: Server; auctions: string[]; watcherFile?: string; bidder: (rate: number, t0: number) => Child<BidResult> };

async function setup(system: System, db: BenchDb): Promise<Setup> {
  if (system === 'service') {
    const fresh = await db.fresh(1);
    const [a, b] = [await startServer(fresh.url), await startServer(fresh.url)];
    return { a, b, auctions: fresh.ids, bidder: (rate, t0) => child<BidResult>('bidders.ts', {
      urls: [a.url], rate, hardLimitMs: S.fanoutMs + 90_000,
      load: { auctions: fresh.ids, bidders: 1, firstBidder: 1000, durationMs: S.fanoutMs, warmupMs: 0, t0 },
    }) };
  }
  if (!sample) throw new Error('no bid_placed message from the service to send: the anchors run after the service');
  const event = sample;
  const auctionId = (JSON.parse(event) as { auction_id: string }).auction_id;
  const [a, b] = system === 'floor'
    ? [await startProcess('anchors/ws-floor.ts', {}), await startProcess('anchors/ws-floor.ts', {})]
    : await (async () => {
      const { url } = await db.fresh(1); // a database of its own for the adapter's NOTIFY traffic
      return [await startProcess('anchors/socketio-peer.ts', { databaseUrl: url }), await startProcess('anchors/socketio-peer.ts', { databaseUrl: url })];
    })();
  return { a, b, auctions: [auctionId], watcherFile: system === 'peer' ? 'anchors/socketio-watchers.ts' : undefined,
    bidder: (rate) => child<BidResult>('anchors/publisher.ts', {
      mode: system === 'floor' ? 'ws' : 'socketio', urls: system === 'floor' ? [a.url, b.url] : [a.url], rate, durationMs: S.fanoutMs,
      sample: event, auctionId, hardLimitMs: S.fanoutMs + 90_000 }) };
}

/**
 * n subscribers over two servers, and for each rate in turn a bidder at that rate on the first server. After the
 * bidder stops, each phase waits until every subscriber got every committed bid (or S.fanoutDrainMs passed), so a
 * delivery that comes late is measured, not left out.
 */
async function fanoutOnce(system: System, db: BenchDb, n: number, rates: number[]): Promise<FanoutRow[]> {
  const { a, b, auctions, watcherFile, bidder: startBidder } = await setup(system, db);
  const rows: FanoutRow[] = [];
  let w: Awaited<ReturnType<typeof watchers>> | undefined;
  try {
    const phaseMs = S.fanoutMs + S.fanoutDrainMs + 30_000;
    w = await watchers([a.url, b.url], n, { firstUser: 0, auctions, perSocket: 1, holdMs: rates.length * phaseMs + 60_000, file: watcherFile });
    for (const p of w.procs) p.go();
    const t00 = Date.now(); // bid amounts keep rising from phase to phase
    for (const rate of rates) {
      const bidder = startBidder(rate, t00);
      await bidder.ready;
      const [sa, sb] = [await a.stats(), await b.stats()];
      await Promise.all([a.profile(true), b.profile(true)]);
      const m0 = machineTicks();
      const t0 = Date.now();
      bidder.go();
      const bids = await bidder.result;
      const bidS = (Date.now() - t0) / 1000;
      // an anchor broadcasts every event it is sent, acknowledged in time or not; the service, the bids it accepted
      const committed = system === 'service' ? bids.accepted : bids.accepted + bids.unanswered;
      const expected = committed * w.connected;
      const drainEnd = Date.now() + S.fanoutDrainMs;
      for (let got = 0; got < expected && Date.now() < drainEnd; await sleep(200)) {
        got = (await Promise.all(w.procs.map((p) => p.request({ type: 'count' }, 'count')))).reduce((s, m) => s + (m.deliveries as number), 0);
      }
      const deliverS = (Date.now() - t0) / 1000;
      await Promise.all([a.profile(false), b.profile(false)]);
      const m1 = machineTicks();
      const [ea, eb] = [await a.stats(), await b.stats()];
      const phases = await Promise.all(w.procs.map((p) => p.request({ type: 'phase' }, 'phase')));
      if (system === 'service') sample ??= phases.find((m) => m.sample)?.sample as string | undefined;
      const lat = Hist.from(phases.map((m) => m.latency as HistJson));
      const deliveries = phases.reduce((s, m) => s + (m.deliveries as number), 0);
      const missing = Math.max(0, expected - deliveries);
      const d = (k: string) => ((ea[k] as number) - (sa[k] as number)) + ((eb[k] as number) - (sb[k] as number));
      const wallS = (Date.now() - t0) / 1000;
      rows.push({
        system, n, rate, connected: w.connected, failed: w.failed, firstError: w.firstError, setupS: w.setupS,
        sent: bids.accepted + bids.rejected + bids.errors + bids.unanswered, accepted: committed,
        deliveries, expected, deliverS, bidS, p50: pctWithMissing(lat, 50, missing), p99: pctWithMissing(lat, 99, missing), max: missing ? Infinity : lat.max,
        busy: (m1.busy - m0.busy) / (m1.total - m0.total), serverP99: `${lagP99(sa, ea)}, ${lagP99(sb, eb)}`,
        serverCpu: d('cpuSeconds') / wallS, serverSys: d('cpuSystemSeconds') / wallS, cpuPerDelivery: d('cpuSeconds') / Math.max(1, deliveries),
        loop: `${ms(ea.loopP99Ms as number)} / ${ms(ea.loopMaxMs as number)}, ${ms(eb.loopP99Ms as number)} / ${ms(eb.loopMaxMs as number)}`,
        loadCpu: NaN, lost: 0, bidP99: Hist.from([bids.latency]).pct(99),
      });
    }
    for (const p of w.procs) p.proc.send({ type: 'stop' });
    const results = await Promise.all(w.procs.map((p) => p.result));
    // the watchers' CPU over their whole run (all phases, drains included) and sockets closed before the end
    const loadCpu = results.reduce((s, r) => s + (r.cpuSeconds ?? 0), 0) / (Math.max(...results.map((r) => r.runMs ?? 0)) / 1000);
    const lost = w.connected - results.reduce((s, r) => s + r.connected, 0);
    for (const r of rows) Object.assign(r, { loadCpu, lost });
    return rows;
  } finally {
    for (const p of w?.procs ?? []) p.stop(); // gone already unless a phase failed
    await Promise.all([a.close(), b.close()]);
  }
}

export async function fanout(dbs: BenchDb[]) {
  const db = dbs[0];
  const rows: FanoutRow[] = [];
  const top = Math.max(...S.fanoutN);
  const systems: System[] = ANCHORS ? ['service', 'floor', 'peer'] : ['service'];
  const failures: string[] = [];
  for (const n of S.fanoutN) {
    for (const system of systems) {
      const rates = n === top ? S.fanoutTopRates : [S.fanoutRate];
      // an anchor that fails is reported as such; the service's figures stand without it
      if (system === 'service') rows.push(...await fanoutOnce(system, db, n, rates));
      else {
        try {
          rows.push(...await fanoutOnce(system, db, n, rates));
        } catch (err) {
          console.error(`fan-out anchor ${system} at ${n} failed:`, err);
          failures.push(`${SYSTEMS[system]} at ${f0(n)} subscribers failed: ${String((err as Error).message ?? err).slice(0, 300)}`);
        }
      }
    }
  }
  const late = (x: number) => (Number.isFinite(x) ? ms(x) : `> ${S.fanoutDrainMs / 1000} s`);
  const service = rows.filter((r) => r.system === 'service');
  const withSystem = systems.length > 1;
  report(`3. Fan-out: 1 auction, N subscribers over two servers, a bidder at a fixed rate for ${S.fanoutMs / 1000} s`, table(
    [...(withSystem ? ['system'] : []), 'subscribers (connected)', 'bids/s offered', 'setup', 'bids sent / committed', 'bid round trip p99', 'deliveries (expected)', 'deliveries/s',
      'commit→delivery p50', 'p99', 'max', 'sockets lost', 'commit→broadcast start p99 (server A, B)', 'event-loop delay p99 / max (A, B)', 'server CPU per delivery',
      'CPU: both servers (kernel part) / watchers (machine busy)'],
    rows.map((r) => [...(withSystem ? [SYSTEMS[r.system]] : []), `${f0(r.n)} (${f0(r.connected)}${r.failed ? `; ${r.failed} failed: ${r.firstError}` : ''})`, r.rate,
      `${r.setupS.toFixed(1)} s`, `${r.sent} / ${r.accepted}`, ms(r.bidP99),
      `${f0(r.deliveries)} (${f0(r.expected)})`, f0(r.deliveries / r.deliverS), late(r.p50), late(r.p99), late(r.max), r.lost, r.serverP99, r.loop,
      `${f1(r.cpuPerDelivery * 1e6)} µs`, `${pc(r.serverCpu)} (${pc(r.serverSys)}) / ${pc(r.loadCpu)} (${pc(r.busy)})`])) +
    '\n\nLatency: the receiving client\'s clock minus `data.time` (the bid\'s `created_at`, stamped just before commit), same machine clock. ' +
    `After the bidder stops, the run waits up to ${S.fanoutDrainMs / 1000} s for every subscriber to get every committed bid; one still missing then counts as later than that. ` +
    'Bid round trip: the bidder\'s place_bid → bid_accepted on instance A (a fan-out that holds A\'s event loop delays the bids themselves, and so the commits the latency counts from). ' +
    'Deliveries/s: deliveries over the time from the first bid to the last delivery. Server CPU per delivery: both instances\' CPU time (the bids included) over the deliveries. ' +
    'Rows with the same system and N share their sockets. The watchers share the two cores with the instances and PostgreSQL.' +
    (withSystem ? ' Anchors: their events carry the time they were sent (no database on the way, which favours them); round trip = sent → the first server\'s ack.' +
      `\n\nThe service against the anchors (p99 commit→delivery):\n\n${anchorTable(rows, late)}` : '') +
    failures.map((f) => `\n\n**${f}**`).join(''));

  const at = service.filter((r) => r.n === top);
  const main = at.find((r) => r.rate === S.fanoutRate) ?? at.at(-1)!;
  const ok = service.filter((r) => r.p99 <= 100 && r.connected === r.n && r.deliveries >= r.expected);
  const okTop = at.filter((r) => ok.includes(r));
  verdicts.push({ target: 'fan-out: p99 commit→delivery ≤ 100 ms at 10k subscribers',
    measured: `p99 ${late(main.p99)} at ${f0(main.connected)} subscribers and ${main.rate} bids/s; largest N within 100 ms at ${S.fanoutRate} bids/s: ` +
      `${ok.filter((r) => r.rate === S.fanoutRate).at(-1)?.n.toLocaleString('en-US') ?? 'none tried'}` +
      (at.length > 1 ? `; at ${f0(top)}: ${okTop.length ? `up to ${Math.max(...okTop.map((r) => r.rate))} bids/s within 100 ms` : 'no rate tried within 100 ms'}` : ''),
    met: main.connected >= 10_000 ? main.p99 <= 100 : false });
  // targets: p99 ≤ 1.0× the bare ws floor's and below the Socket.IO peer's, at the largest N and every rate tried there
  for (const system of systems.filter((s) => s !== 'service')) {
    for (const r of at) {
      const anchor = rows.find((x) => x.system === system && x.n === r.n && x.rate === r.rate);
      if (!anchor) continue;
      const floor = system === 'floor';
      verdicts.push({ target: `fan-out p99 at ${f0(r.n)} subscribers, ${r.rate} bids/s, ${floor ? '≤ 1.0×' : 'below'} the ${SYSTEMS[system]}'s`,
        measured: `${ratio(r.p99, anchor.p99)} (${late(r.p99)} vs ${late(anchor.p99)})`, met: floor ? r.p99 <= anchor.p99 : r.p99 < anchor.p99 });
    }
  }
}

/** Per N and rate: p99 of the service, the floor and the peer, and the service's as a ratio to each. */
function anchorTable(rows: FanoutRow[], late: (x: number) => string) {
  const find = (s: System, r: FanoutRow) => rows.find((x) => x.system === s && x.n === r.n && x.rate === r.rate);
  return table(['subscribers', 'bids/s', 'service p50 / p99', 'bare ws floor p50 / p99', 'Socket.IO peer p50 / p99', 'service p99 vs floor', 'service p99 vs Socket.IO',
    'server CPU per delivery: service / floor / Socket.IO'],
    rows.filter((r) => r.system === 'service').map((r) => {
      const [fl, pe] = [find('floor', r), find('peer', r)];
      const p = (x: FanoutRow | undefined) => (x ? `${late(x.p50)} / ${late(x.p99)}` : '–');
      return [f0(r.n), r.rate, p(r), p(fl), p(pe), ratio(r.p99, fl?.p99 ?? NaN), ratio(r.p99, pe?.p99 ?? NaN),
        [r, fl, pe].map((x) => (x ? `${f1(x.cpuPerDelivery * 1e6)} µs` : '–')).join(' / ')];
    }));
}
