import type { FastifyInstance } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bidsSince, createAuction, createItem, getAuction, listAuctions, snapshot, type Scheduler } from '../../domain/auctions.ts';
import { acceptedView, buyNow, rejectedView } from '../../domain/bids.ts';
import { toJsonAmount } from '../../domain/money.ts';
import { auctionId, auctionInput, createAuctionData, listAuctionsData, placeBidData } from '../../realtime/protocol.ts';
import { acceptedBid, auctionList, auctionSnapshot, bidList, bidRejection, boughtBid, errorBody, itemView } from '../../realtime/views.ts';
import { HttpError, sendError, validatorCompiler } from '../errors.ts';

// REST beside the socket: the same operations, validated by the same zod schemas, answering the same JSON
// shapes (src/realtime/views.ts). The schemas also make the OpenAPI document (/openapi.json, /docs).
const itemBody = z.object({ name: z.string().trim().min(1).max(255), description: z.string().max(10_000).optional() }).strict()
  .meta({ id: 'CreateItem' });
const bidsQuery = z.object({
  since_seq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
}).strict();
const idParams = z.object({ id: auctionId.describe('the auction id') });
const idempotency = z.looseObject({
  'idempotency-key': z.string().min(1).max(128).optional()
    .describe('makes a retry safe: the same key (per user and auction) returns the first outcome instead of bidding twice'),
});

const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, content: { 'application/json': { schema } } });
const failed = (description: string) => json(description, errorBody);
const common = { 400: failed('invalid input: `details` lists each invalid field'), 401: failed('no valid token: `unauthorized`, `invalid_token` or `token_expired`') };
const bidFailed = (description: string) => json(description, z.union([bidRejection, errorBody]));
const notFound = failed('`auction_not_found`');

export default async function restRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.removeContentTypeParser('text/plain'); // JSON only: any other body is 415
  const scheduler = () => (app as unknown as { scheduleAuction?: Scheduler }).scheduleAuction;

  // before the body is read or anything validated: who is calling
  app.addHook('onRequest', async (req) => {
    req.identity = await app.authenticate(req);
  });

  app.get('/api/v1/auctions', {
    schema: {
      operationId: 'listAuctions', tags: ['auctions'], summary: 'List auctions, newest first',
      querystring: listAuctionsData,
      response: { 200: json('a page of auctions', auctionList), ...common },
    },
  }, async (req) => {
    const page = await listAuctions(app.pg.db, req.query);
    return { auctions: page.auctions.map(snapshot), next_cursor: page.next_cursor };
  });

  app.get('/api/v1/auctions/:id', {
    schema: {
      operationId: 'getAuction', tags: ['auctions'], summary: 'One auction',
      params: idParams,
      response: { 200: json('the auction', auctionSnapshot), ...common, 404: notFound },
    },
  }, async (req) => {
    const a = await getAuction(app.pg.sql, req.params.id);
    if (!a) throw new HttpError(404, 'auction_not_found', 'no such auction');
    return snapshot(a);
  });

  app.get('/api/v1/auctions/:id/bids', {
    schema: {
      operationId: 'listBids', tags: ['bids'], summary: "An auction's accepted bids, by seq",
      params: idParams, querystring: bidsQuery,
      response: { 200: json('the bids after since_seq', bidList), ...common, 404: notFound },
    },
  }, async (req) => {
    const { id } = req.params;
    const q = req.query;
    if (!(await getAuction(app.pg.sql, id))) throw new HttpError(404, 'auction_not_found', 'no such auction');
    const rows = await bidsSince(app.pg.sql, id, q.since_seq, q.limit);
    return {
      bids: rows.map((b) => ({ bid_id: b.id, user_id: b.user_id, amount: toJsonAmount(b.amount), seq: b.seq, kind: b.kind, time: b.created_at.toISOString() })),
      next_since_seq: rows.length === q.limit ? rows.at(-1)!.seq : null,
    };
  });

  app.post('/api/v1/items', {
    schema: {
      operationId: 'createItem', tags: ['items'], summary: 'Create an item',
      body: itemBody,
      response: { 201: json('the item', itemView), ...common },
    },
  }, async (req, reply) => {
    const item = await createItem(app.pg.sql, req.identity!.userId, req.body.name, req.body.description ?? '');
    return reply.code(201).send(item);
  });

  app.post('/api/v1/auctions', {
    schema: {
      operationId: 'createAuction', tags: ['auctions'], summary: 'Create an auction (and its item, when given inline)',
      body: createAuctionData,
      response: {
        201: json('the auction', auctionSnapshot), ...common,
        404: failed('`item_not_found`'), 409: failed('`item_has_open_auction`'),
      },
    },
  }, async (req, reply) => {
    const a = await createAuction(app.pg.sql, auctionInput(req.identity!.userId, req.body), scheduler());
    return reply.code(201).send(snapshot(a));
  });

  app.post('/api/v1/auctions/:id/bids', {
    schema: {
      operationId: 'placeBid', tags: ['bids'], summary: 'Place a bid: an amount, a maximum (a proxy bid), or both',
      params: idParams, headers: idempotency, body: placeBidData,
      response: {
        201: json('accepted', acceptedBid), 200: json('a retry of an accepted bid (`duplicate: true`)', acceptedBid),
        400: bidFailed('invalid input (`details` lists each field), or `invalid_amount`, `invalid_max_amount`'),
        401: common[401],
        404: bidFailed('`auction_not_found`'),
        409: bidFailed('rejected: `error.code` is the reason (`too_low`, `ended`, ...); `min_next_bid` says what would be accepted'),
        504: failed('`outcome_unknown`: no answer in time; retry with the same Idempotency-Key'),
      },
    },
  }, async (req, reply) => {
    const { amount, max_amount } = req.body;
    const r = await app.placeBid({ auctionId: req.params.id, userId: req.identity!.userId, amount, maxAmount: max_amount,
      requestId: req.headers['idempotency-key'] });
    if (r.accepted) return reply.code(r.duplicate ? 200 : 201).send(acceptedView(r));
    const status = r.reason === 'auction_not_found' ? 404
      : ['invalid_amount', 'invalid_max_amount', 'invalid_request_id'].includes(r.reason!) ? 400 : 409;
    const { message, data } = rejectedView(r);
    return sendError(reply, status, r.reason!, message, data);
  });

  app.post('/api/v1/auctions/:id/buy-now', {
    schema: {
      operationId: 'buyNow', tags: ['bids'], summary: 'Buy now: ends the auction for you at its buy-now price',
      params: idParams, headers: idempotency,
      response: {
        201: json('bought', boughtBid), 200: json('a retry (`duplicate: true`)', boughtBid), ...common,
        404: notFound, 409: failed('`buy_now_unavailable`, `ended`, `cancelled` or `not_started`'),
      },
    },
  }, async (req, reply) => {
    const r = await buyNow(app.pg.sql, { auctionId: req.params.id, userId: req.identity!.userId, requestId: req.headers['idempotency-key'] });
    return reply.code(r.duplicate ? 200 : 201).send({ ...acceptedView(r), bought: true as const });
  });
}
