import type { Test } from 'tap';
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { build } from '../../src/build.ts';
import { loadConfig } from '../../src/config.ts';
import { mintToken } from '../../src/auth/tokens.ts';
import { auctionInput, type AuctionOpts } from './fixtures.ts';
import { Inbox, opened } from './inbox.ts';

export const TEST_SECRET = 'test-secret-test-secret-test-secret-0123';

export type Instance = { app: FastifyInstance; http: string; ws: string; close: () => Promise<void> };

/** A built app (not listening), closed at teardown unless the test closed it first. */
export async function buildApp(t: Test, dbUrl: string, env: Record<string, string> = {}) {
  const config = loadConfig({ DATABASE_URL: dbUrl, JWT_SECRET: TEST_SECRET, PORT: '0', LOG_LEVEL: 'silent', ...env });
  const app = await build({ config, logger: env.LOG_LEVEL !== undefined });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  t.teardown(close);
  return { app, close };
}

/** A real instance on a free loopback port, closed at teardown. */
export async function startInstance(t: Test, dbUrl: string, env: Record<string, string> = {}): Promise<Instance> {
  const { app, close } = await buildApp(t, dbUrl, env);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { app, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws`, close };
}

export async function tokenFor(user: string, opts: { ttlSeconds?: number; secret?: string; audience?: string } = {}) {
  return mintToken({
    secret: new TextEncoder().encode(opts.secret ?? TEST_SECRET), user, ttlSeconds: opts.ttlSeconds,
    issuer: 'auction-service', audience: opts.audience ?? 'auction-service',
  });
}

export type Msg = { type: string; auction_id?: string; request_id?: string; seq?: number; data?: any; error?: { code: string; message: string }; timestamp: number };

/** A WebSocket client that records every message and can wait for one. */
export class Client {
  readonly ws: WebSocket;
  readonly userId: string;
  closeCode: number | undefined;
  error: Error | undefined;
  private inbox = new Inbox<Msg>();

  constructor(ws: WebSocket, userId: string) {
    this.ws = ws;
    this.userId = userId;
    ws.on('message', (raw) => this.inbox.add(JSON.parse(raw.toString()) as Msg));
    ws.on('close', (code) => { this.closeCode = code; });
    // a reset from a server that shuts down under it (ECONNRESET) is the socket's end, not the test process's
    ws.on('error', (err) => { this.error = err; });
  }

  get messages(): Msg[] {
    return this.inbox.messages;
  }

  send(m: unknown) {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** Waits for a message matching `pred` (already received ones count), failing after `ms`. */
  next(pred: (m: Msg) => boolean, ms = 5000, from = 0): Promise<Msg> {
    return this.inbox.next(pred, from, ms);
  }

  /** Sends a message with a fresh request_id and waits for the reply that echoes it. */
  async request(m: Record<string, unknown>, ms = 5000): Promise<Msg> {
    const request_id = (m.request_id as string) ?? randomUUID();
    const reply = this.next((x) => x.request_id === request_id, ms, this.messages.length);
    this.send({ ...m, request_id });
    return reply;
  }

  /** Creates an auction over this socket (create_auction); resolves with its id. */
  async createAuction(o: AuctionOpts = {}): Promise<string> {
    const m = await this.request({ type: 'create_auction', data: auctionInput(o) });
    if (m.type !== 'auction_created') throw new Error(`create_auction: ${JSON.stringify(m)}`);
    return m.auction_id!;
  }

  /**
   * Resolves once everything the server sent this socket before now has arrived: a ping's pong comes after
   * it. Before asserting that a message did not come, wait for this.
   */
  async settled(): Promise<void> {
    await this.request({ type: 'ping' });
  }

  bids(auctionId: string) {
    return this.messages.filter((m) => m.type === 'bid_placed' && m.auction_id === auctionId);
  }

  closed(ms = 5000): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('socket did not close')), ms);
      this.ws.once('close', (code) => { clearTimeout(timer); resolve(code); });
    });
  }
}

export async function connectClient(t: Test, inst: { ws: string }, user: string,
  opts: { headers?: Record<string, string>; query?: string; ttlSeconds?: number; protocols?: string[] } = {}) {
  const { token, userId } = await tokenFor(user, { ttlSeconds: opts.ttlSeconds });
  const url = `${inst.ws}?${opts.query ?? `token=${token}`}`;
  const ws = new WebSocket(url, opts.protocols ?? [], { headers: opts.headers });
  const client = new Client(ws, userId);
  await opened(ws);
  t.teardown(() => { ws.terminate(); });
  return client;
}
