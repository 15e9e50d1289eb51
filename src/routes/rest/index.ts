import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AuthError, type Identity } from '../../auth/tokens.ts';
import { toClientError } from '../../db/errors.ts';
import { BadCursorError, bidsSince, createAuction, createItem, getAuction, listAuctions, snapshot, type Scheduler } from '../../domain/auctions.ts';
import { OutcomeUnknownError } from '../../domain/bid-batcher.ts';
import { acceptedView, buyNow, rejectedView } from '../../domain/bids.ts';
import { toJsonAmount } from '../../domain/money.ts';
import { auctionId, auctionInput, createAuctionData, listAuctionsData, placeBidData } from '../../realtime/protocol.ts';
import { HttpError, invalid, send } from './errors.ts';

// REST beside the socket: the same operations and JSON shapes (docs/protocol.md, /openapi.json).
export const itemBody = z.object({ name: z.string().trim().min(1).max(255), description: z.string().max(10_000).optional() }).strict();
export const bidsQuery = z.object({
  since_seq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
}).strict();
const idParams = z.object({ id: auctionId });
const idempotencyKey = z.string().min(1).max(128);

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw invalid(r.error, where);
  return r.data;
}

export default async function restRoutes(app: FastifyInstance) {
  const scheduler = () => (app as unknown as { scheduleAuction?: Scheduler }).scheduleAuction;

  app.addHook('preHandler', async (req: FastifyRequest & { identity?: Identity }) => {
    req.identity = await app.authenticate(req);
  });

  // one mapping for every failure of this API: auth, validation, database rules, unknowns
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof HttpError) return send(reply, err.status, err.code, err.message, err.extra);
    if (err instanceof AuthError) return send(reply, 401, err.code, err.message);
    if (err instanceof BadCursorError) return send(reply, 400, 'invalid_argument', err.message);
    if (err instanceof OutcomeUnknownError) return send(reply, 504, err.code, 'no answer in time; retry with the same Idempotency-Key');
    const fastifyCode = (err as { code?: string }).code ?? '';
    if (fastifyCode.startsWith('FST_ERR_CTP') || (err as { statusCode?: number }).statusCode === 400) {
      return send(reply, (err as { statusCode?: number }).statusCode ?? 400, 'invalid_body', (err as Error).message);
    }
    const ce = toClientError(err);
    if (ce.code === 'internal') req.log.error({ err }, 'request failed');
    return send(reply, ce.status, ce.code, ce.message);
  });

  app.get('/api/v1/auctions', async (req) => {
    const q = parse(listAuctionsData, req.query, 'query');
    const page = await listAuctions(app.pg.db, q);
    return { auctions: page.auctions.map(snapshot), next_cursor: page.next_cursor };
  });

  app.get('/api/v1/auctions/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'path');
    const a = await getAuction(app.pg.sql, id);
    if (!a) throw new HttpError(404, 'auction_not_found', 'no such auction');
    return snapshot(a);
  });

  app.get('/api/v1/auctions/:id/bids', async (req) => {
    const { id } = parse(idParams, req.params, 'path');
    const q = parse(bidsQuery, req.query, 'query');
    if (!(await getAuction(app.pg.sql, id))) throw new HttpError(404, 'auction_not_found', 'no such auction');
    const rows = await bidsSince(app.pg.sql, id, q.since_seq, q.limit);
    return {
      bids: rows.map((b) => ({ bid_id: b.id, user_id: b.user_id, amount: toJsonAmount(b.amount), seq: b.seq, kind: b.kind, time: b.created_at.toISOString() })),
      next_since_seq: rows.length === q.limit ? rows.at(-1)!.seq : null,
    };
  });

  app.post('/api/v1/items', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const body = parse(itemBody, req.body, 'body');
    const item = await createItem(app.pg.sql, req.identity!.userId, body.name, body.description ?? '');
    return reply.code(201).send(item);
  });

  app.post('/api/v1/auctions', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const d = parse(createAuctionData, req.body, 'body');
    const a = await createAuction(app.pg.sql, auctionInput(req.identity!.userId, d), scheduler());
    return reply.code(201).send(snapshot(a));
  });

  app.post('/api/v1/auctions/:id/bids', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const { id } = parse(idParams, req.params, 'path');
    const { amount, max_amount } = parse(placeBidData, req.body, 'body');
    const header = req.headers['idempotency-key'];
    const key = header === undefined ? undefined : parse(idempotencyKey, header, 'Idempotency-Key header');
    const r = await app.placeBid({ auctionId: id, userId: req.identity!.userId, amount, maxAmount: max_amount, requestId: key });
    if (r.accepted) return reply.code(r.duplicate ? 200 : 201).send(acceptedView(r));
    const status = r.reason === 'auction_not_found' ? 404
      : ['invalid_amount', 'invalid_max_amount', 'invalid_request_id'].includes(r.reason!) ? 400 : 409;
    const { message, data } = rejectedView(r);
    return send(reply, status, r.reason!, message, data);
  });

  app.post('/api/v1/auctions/:id/buy-now', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const { id } = parse(idParams, req.params, 'path');
    const header = req.headers['idempotency-key'];
    const key = header === undefined ? undefined : parse(idempotencyKey, header, 'Idempotency-Key header');
    const r = await buyNow(app.pg.sql, { auctionId: id, userId: req.identity!.userId, requestId: key });
    return reply.code(r.duplicate ? 200 : 201).send({ ...acceptedView(r), bought: true });
  });
}
