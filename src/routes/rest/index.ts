import type { FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createAuctionInput } from '../../domain/auctions.ts';
import { accepted, auctionList as renderList, bidList as renderBids, bought, rejected, snapshot } from '../../protocol/render.ts';
import { auctionId, createAuctionData, itemData, listAuctionsData, listBidsData, placeBidData, text } from '../../protocol/requests.ts';
import { acceptedBid, auctionList, auctionSnapshot, bidList, bidRejection, boughtBid, errorBody, itemView } from '../../protocol/views.ts';
import { HttpError, sendError, validatorCompiler } from '../errors.ts';

// REST beside the socket: the same operations (app.auctions), validated by the same zod schemas, answering the
// same JSON shapes (src/protocol/views.ts) rendered by the same functions (src/protocol/render.ts). The schemas
// also make the OpenAPI document (/openapi.json, /docs).
const idParams = z.object({ id: auctionId.describe('the auction id') });
const idempotency = z.looseObject({
  'idempotency-key': text().min(1).max(128).optional()
    .describe('makes a retry safe: the same key (per user and auction) returns the first outcome instead of bidding twice'),
});

const json = <T extends z.ZodType>(description: string, schema: T) => ({ description, content: { 'application/json': { schema } } });
const failed = (description: string) => json(description, errorBody);
const common = { 400: failed('invalid input: `details` lists each invalid field; `token_in_query` for a ?token= (header only)'), 401: failed('no valid token: `unauthorized`, `invalid_token` or `token_expired`'),
  429: failed('`rate_limited`: over REST_RATE_LIMIT_PER_MIN; Retry-After says when to try again') };
const bidFailed = (description: string) => json(description, z.union([bidRejection, errorBody]));
const notFound = failed('`auction_not_found`');

export default async function restRoutes(fastify: FastifyInstance) {
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.removeContentTypeParser('text/plain'); // JSON only: any other body is 415
  const auctions = app.auctions;

  // only these routes: /health, /ready, /metrics and the live page are not limited
  await app.register(rateLimit, { global: false });
  const perMin = app.config.REST_RATE_LIMIT_PER_MIN;
  const limit = app.createRateLimit({
    max: perMin, timeWindow: 60_000,
    keyGenerator: (req) => (req.identity ? `user:${req.identity.userId}` : `ip:${req.ip}`),
  });

  // before the body is read or anything validated: who is calling, and whether they are over their rate
  app.addHook('onRequest', async (req, reply) => {
    // REST takes the Authorization header only: a token in the URL ends up in access logs and browser history
    if (Object.hasOwn(req.query as object, 'token')) {
      throw new HttpError(400, 'token_in_query', 'send the token in the Authorization header (Bearer); ?token= is for the WebSocket upgrade only');
    }
    let refused: unknown;
    try {
      req.identity = await app.authenticate(req);
    } catch (err) {
      refused = err; // counted against the address first, so a flood of bad tokens is limited too
    }
    const r = await limit(req);
    if (!r.isAllowed && r.isExceeded) {
      reply.header('retry-after', String(r.ttlInSeconds));
      return sendError(reply, 429, 'rate_limited', `more than ${perMin} requests per minute; retry after ${r.ttlInSeconds} s`);
    }
    if (refused) throw refused;
  });

  app.get('/api/v1/auctions', {
    schema: {
      operationId: 'listAuctions', tags: ['auctions'], summary: 'List auctions, newest first',
      querystring: listAuctionsData,
      response: { 200: json('a page of auctions', auctionList), ...common },
    },
  }, async (req) => renderList(await auctions.listAuctions(req.query)));

  app.get('/api/v1/auctions/:id', {
    schema: {
      operationId: 'getAuction', tags: ['auctions'], summary: 'One auction',
      params: idParams,
      response: { 200: json('the auction', auctionSnapshot), ...common, 404: notFound },
    },
  }, async (req) => {
    const a = await auctions.getAuction(req.params.id);
    if (!a) throw new HttpError(404, 'auction_not_found', 'no such auction');
    return snapshot(a);
  });

  app.get('/api/v1/auctions/:id/bids', {
    schema: {
      operationId: 'listBids', tags: ['bids'], summary: "An auction's accepted bids, by seq",
      params: idParams, querystring: listBidsData,
      response: { 200: json('the bids after since_seq', bidList), ...common, 404: notFound },
    },
  }, async (req) => {
    const { id } = req.params;
    const q = req.query;
    if (!(await auctions.getAuction(id))) throw new HttpError(404, 'auction_not_found', 'no such auction');
    return renderBids(await auctions.bidsSince(id, q.since_seq, q.limit), q.limit);
  });

  app.post('/api/v1/items', {
    schema: {
      operationId: 'createItem', tags: ['items'], summary: 'Create an item',
      body: itemData,
      response: { 201: json('the item', itemView), ...common },
    },
  }, async (req, reply) => {
    const item = await auctions.createItem(req.identity!.userId, req.body.name, req.body.description ?? '');
    return reply.code(201).send(item);
  });

  app.post('/api/v1/auctions', {
    schema: {
      operationId: 'createAuction', tags: ['auctions'], summary: 'Create an auction (and its item, when given inline)',
      body: createAuctionData,
      response: {
        201: json('the auction', auctionSnapshot), ...common, 403: failed('`not_item_owner`: the item is another user\'s'),
        404: failed('`item_not_found`'), 409: failed('`item_has_open_auction`'),
      },
    },
  }, async (req, reply) => {
    const a = await auctions.createAuction(createAuctionInput(req.identity!.userId, req.body));
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
    const asked = { amount: req.body.amount, maxAmount: req.body.max_amount };
    const r = await auctions.placeBid({ auctionId: req.params.id, userId: req.identity!.userId, ...asked, requestId: req.headers['idempotency-key'] });
    if (r.accepted) return reply.code(r.duplicate ? 200 : 201).send(accepted(r));
    const status = r.reason === 'auction_not_found' ? 404
      : ['invalid_amount', 'invalid_max_amount', 'invalid_request_id'].includes(r.reason!) ? 400 : 409;
    const { message, data } = rejected(r, asked);
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
    const r = await auctions.buyNow({ auctionId: req.params.id, userId: req.identity!.userId, requestId: req.headers['idempotency-key'] });
    return reply.code(r.duplicate ? 200 : 201).send(bought(r));
  });
}
