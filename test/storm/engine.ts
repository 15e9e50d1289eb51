// The bid storm and its checker: several instances, many WebSocket clients, every operation recorded,
// then every invariant checked against the database. Used by storm.test.ts (short) and soak.ts (long).
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { mintToken } from '../../src/auth/tokens.ts';

export type Endpoint = { ws: string };
export type Op = { client: number; auction: string; amount: string; requestId: string; outcome: 'sent' | 'accepted' | 'rejected' | 'unknown'; bidId?: string; seq?: number; reason?: string };

type Options = {
  sql: Sql;
  endpoints: () => Endpoint[]; // live instances; a client that loses its socket reconnects to one of these
  secret: string;
  auctions: string[];
  clients: number;
  bidsPerClient: number;
  subscriptionsPerClient: number;
  retries: number; // an operation without an outcome (socket cut, server error) is retried with its request_id
};

class StormClient {
  readonly userId: string;
  readonly token: string;
  ws: WebSocket | undefined;
  readonly seen = new Map<string, Map<number, { amount: number; user_id: string; bid_id: string }>>();
  readonly price = new Map<string, number>();
  private waiters = new Map<string, (m: any) => void>();
  reconnects = 0;
  resumed = 0;
  readonly idx: number;
  readonly subs: string[];

  constructor(idx: number, userId: string, token: string, subs: string[]) {
    this.idx = idx;
    this.userId = userId;
    this.token = token;
    this.subs = subs;
    for (const a of subs) this.seen.set(a, new Map());
  }

  lastSeq(a: string) {
    let max = 0;
    for (const s of this.seen.get(a)!.keys()) if (s > max) max = s;
    return max;
  }

  private connecting: Promise<void> | undefined;

  /** As a real client does when its socket closed: reconnect and resume (once at a time). */
  ensureOpen(endpoints: () => Endpoint[]): Promise<void> {
    if (this.ws && this.ws.readyState === this.ws.OPEN) return Promise.resolve();
    if (!this.connecting) {
      this.reconnects++;
      this.connecting = this.connect(endpoints).finally(() => { this.connecting = undefined; });
    }
    return this.connecting;
  }

  async connect(endpoints: () => Endpoint[]) {
    for (let attempt = 0; attempt < 200; attempt++) {
      const list = endpoints();
      const ep = list[(this.idx + attempt) % list.length];
      try {
        const ws = new WebSocket(`${ep.ws}?token=${this.token}`);
        await new Promise<void>((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
          ws.once('unexpected-response', () => reject(new Error('refused')));
        });
        this.ws = ws;
        ws.on('message', (raw) => this.onMessage(JSON.parse(raw.toString())));
        ws.on('error', () => {});
        // resume every subscription from what this client already has; all must succeed
        const replies = await Promise.all(this.subs.map((a) => this.request({ type: 'subscribe', auction_id: a, data: { since_seq: this.lastSeq(a) } })));
        if (replies.every((r) => r?.type === 'auction_update')) return;
        ws.terminate();
        throw new Error('subscribe failed');
      } catch {
        await new Promise((r) => setTimeout(r, Math.min(500, 50 + attempt * 25)));
      }
    }
    throw new Error(`client ${this.idx} could not connect`);
  }

  private onMessage(m: any) {
    if (m.type === 'bid_placed') {
      this.seen.get(m.auction_id)?.set(m.seq, { amount: m.data.amount, user_id: m.data.user_id, bid_id: m.data.bid_id });
      this.price.set(m.auction_id, Math.max(this.price.get(m.auction_id) ?? 0, m.data.amount));
    } else if (m.type === 'auction_update' && m.data?.current_price !== undefined) {
      this.price.set(m.auction_id, Math.max(this.price.get(m.auction_id) ?? 0, m.data.current_price));
    }
    if (m.request_id && this.waiters.has(m.request_id)) {
      const w = this.waiters.get(m.request_id)!;
      this.waiters.delete(m.request_id);
      w(m);
    }
  }

  request(m: Record<string, unknown>, ms = 10_000): Promise<any> {
    const request_id = (m.request_id as string) ?? randomUUID();
    return new Promise((resolve) => {
      const ws = this.ws;
      if (!ws || ws.readyState !== ws.OPEN) return resolve(undefined);
      const done = (reply: unknown) => {
        clearTimeout(timer);
        ws.off('close', onClose);
        this.waiters.delete(request_id);
        resolve(reply);
      };
      const onClose = () => done(undefined);
      const timer = setTimeout(() => done(undefined), ms);
      this.waiters.set(request_id, done);
      ws.on('close', onClose);
      ws.send(JSON.stringify({ ...m, request_id }));
    });
  }
}

export type StormResult = {
  ops: Op[];
  clients: StormClient[];
  durationMs: number;
  counts: Record<string, number>;
};

/** Runs the storm: every client bids `bidsPerClient` times; an unknown outcome is retried with the same request_id. */
/**
 * Runs the storm; `duringStorm` injects faults and gets `decided(n)`, which resolves once n operations have an
 * outcome, so a fault lands mid-storm however fast the machine is.
 */
export async function runStorm(o: Options, duringStorm?: (decided: (n: number) => Promise<void>) => Promise<void>): Promise<StormResult> {
  const clients: StormClient[] = [];
  for (let i = 0; i < o.clients; i++) {
    const { token, userId } = await mintToken({ secret: new TextEncoder().encode(o.secret), user: `storm-${i}-${randomUUID().slice(0, 6)}`, issuer: 'auction-service', audience: 'auction-service' });
    const subs = Array.from({ length: o.subscriptionsPerClient }, (_, k) => o.auctions[(i * 7 + k * 3) % o.auctions.length]);
    clients.push(new StormClient(i, userId, token, [...new Set(subs)]));
  }
  await Promise.all(clients.map((c) => c.connect(o.endpoints)));
  const ops: Op[] = [];
  const started = Date.now();
  const decided = async (n: number) => {
    while (ops.filter((op) => op.outcome !== 'sent').length < n) await new Promise((res) => setTimeout(res, 5));
  };
  const fault = duringStorm?.(decided);
  await Promise.all(clients.map(async (c) => {
    for (let k = 0; k < o.bidsPerClient; k++) {
      const auction = c.subs[k % c.subs.length];
      const base = c.price.get(auction) ?? 1;
      const amount = (Math.round(base * 100) + 1 + Math.floor(Math.random() * 200)) / 100;
      const op: Op = { client: c.idx, auction, amount: amount.toFixed(2), requestId: randomUUID(), outcome: 'sent' };
      ops.push(op);
      for (let attempt = 0; attempt < o.retries && (op.outcome === 'sent' || op.outcome === 'unknown'); attempt++) {
        if (attempt > 0) await new Promise((res) => setTimeout(res, Math.min(1000, 50 * attempt)));
        await c.ensureOpen(o.endpoints);
        const r = await c.request({ type: 'place_bid', auction_id: auction, request_id: op.requestId, data: { amount: op.amount } });
        if (r?.type === 'bid_accepted') Object.assign(op, { outcome: 'accepted', bidId: r.data.bid_id, seq: r.data.seq });
        else if (r?.type === 'bid_rejected') Object.assign(op, { outcome: 'rejected', reason: r.data.reason });
        else op.outcome = 'unknown';
      }
    }
  }));
  await fault;
  const durationMs = Date.now() - started;
  const counts: Record<string, number> = {};
  for (const op of ops) counts[op.outcome] = (counts[op.outcome] ?? 0) + 1;
  return { ops, clients, durationMs, counts };
}

export type Violation = string;

/** Checks every invariant against the database; returns the violations (empty when all hold). */
export async function check(sql: Sql, r: StormResult, auctions: string[]): Promise<{ violations: Violation[]; bids: number; deliveriesChecked: number }> {
  const v: Violation[] = [];
  const rows = await sql`select b.auction_id, b.seq, b.amount, b.user_id, b.id, b.request_id, b.created_at, a.end_time
                           from auction.bids b join auction.auctions a on a.id = b.auction_id
                          where b.auction_id = any(${auctions}::uuid[]) order by b.auction_id, b.seq`;
  const byAuction = new Map<string, typeof rows>();
  for (const b of rows) {
    if (!byAuction.has(b.auction_id)) byAuction.set(b.auction_id, [] as unknown as typeof rows);
    byAuction.get(b.auction_id)!.push(b);
  }
  const states = await sql`select id, current_price, starting_price, high_bidder_id, seq, status, winner_id from auction.auctions where id = any(${auctions}::uuid[])`;
  for (const a of states) {
    const log = byAuction.get(a.id) ?? [];
    log.forEach((b, i) => {
      if (b.seq !== i + 1) v.push(`${a.id}: seq ${b.seq} at position ${i + 1} (gap)`);
      if (i > 0 && Number(b.amount) <= Number(log[i - 1].amount)) v.push(`${a.id}: seq ${b.seq} amount ${b.amount} does not rise`);
      if (b.created_at >= b.end_time) v.push(`${a.id}: bid ${b.id} accepted at or after end_time`);
    });
    const last = log.at(-1);
    if (a.seq !== log.length) v.push(`${a.id}: auction seq ${a.seq} but ${log.length} bids`);
    if (last && (a.current_price !== last.amount || a.high_bidder_id !== last.user_id)) v.push(`${a.id}: price/high bidder differ from the last bid`);
    if (!last && a.current_price !== a.starting_price) v.push(`${a.id}: price moved without bids`);
    if (a.status === 'ended' && a.winner_id !== (last?.user_id ?? null)) v.push(`${a.id}: winner is not the highest bidder`);
  }
  const byId = new Map(rows.map((b) => [b.id as string, b]));
  const userOf = new Map(r.clients.map((c) => [c.idx, c.userId]));
  for (const op of r.ops) {
    if (op.outcome !== 'accepted') continue;
    const b = byId.get(op.bidId!);
    if (!b) v.push(`acknowledged bid ${op.bidId} is missing`);
    else if (b.user_id !== userOf.get(op.client) || b.amount !== op.amount || b.seq !== op.seq) v.push(`acknowledged bid ${op.bidId} differs in the database`);
  }
  const acked = new Set(r.ops.filter((o) => o.outcome === 'accepted').map((o) => o.bidId));
  if (acked.size !== r.ops.filter((o) => o.outcome === 'accepted').length) v.push('one bid was acknowledged twice');
  const requestIds = new Map(r.ops.map((o) => [o.requestId, o]));
  for (const b of rows) {
    const op = b.request_id ? requestIds.get(b.request_id) : undefined;
    if (!op) v.push(`bid ${b.id} has no recorded operation`);
    else if (userOf.get(op.client) !== b.user_id) v.push(`bid ${b.id} was placed as another user`);
  }
  // every subscriber's de-duplicated stream equals the database's log
  let deliveriesChecked = 0;
  for (const c of r.clients) {
    for (const a of c.subs) {
      const log = byAuction.get(a) ?? [];
      const got = c.seen.get(a)!;
      for (const b of log) {
        const m = got.get(b.seq);
        deliveriesChecked++;
        if (!m) v.push(`client ${c.idx} missed ${a} seq ${b.seq}`);
        else if (m.bid_id !== b.id || m.amount !== Number(b.amount) || m.user_id !== b.user_id) v.push(`client ${c.idx} got a different ${a} seq ${b.seq}`);
      }
      if (got.size !== log.length) v.push(`client ${c.idx} has ${got.size} bids of ${a}, the database ${log.length}`);
    }
  }
  return { violations: v, bids: rows.length, deliveriesChecked };
}

/** Waits until every client has every bid the database has for its auctions (or the time is up). */
/** Waits until every client has every bid; with `endpoints`, a client whose socket closed reconnects and resumes. */
export async function settle(sql: Sql, r: StormResult, auctions: string[], ms = 10_000, endpoints?: () => Endpoint[]) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (endpoints) for (const c of r.clients) void c.ensureOpen(endpoints).catch(() => {});
    const seqs = new Map((await sql`select id, seq from auction.auctions where id = any(${auctions}::uuid[])`).map((x) => [x.id as string, x.seq as number]));
    if (r.clients.every((c) => c.subs.every((a) => c.lastSeq(a) >= (seqs.get(a) ?? 0) && c.seen.get(a)!.size >= (seqs.get(a) ?? 0)))) return true;
    await new Promise((res) => setTimeout(res, 100));
  }
  return false;
}

export function closeAll(r: StormResult) {
  for (const c of r.clients) c.ws?.terminate();
}
