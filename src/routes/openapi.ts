import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createAuctionData, itemData, listAuctionsData, listBidsData, placeBidData } from '../protocol/requests.ts';

const error = { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } } };
const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
const body = (schema: z.ZodType) => ({ required: true, ...json(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' })) });
const params = (schema: z.ZodObject) => Object.entries(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }).properties ?? {})
  .map(([name, s]) => ({ name, in: 'query', schema: s }));
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const errors = { 400: { description: 'invalid input', ...json(error) }, 401: { description: 'no valid token', ...json(error) } };

/** The OpenAPI 3.1 document of the REST API; request schemas come from the same zod schemas the server validates with. */
export function openapiDocument() {
  return {
    openapi: '3.1.0',
    info: { title: 'auction-service', version: '1', description: 'REST beside the WebSocket API (docs/protocol.md). Amounts are JSON numbers with at most two decimals.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/auctions': {
        get: { summary: 'List auctions, newest first', parameters: params(listAuctionsData), responses: { 200: { description: '{auctions, next_cursor}' }, ...errors } },
        post: { summary: 'Create an auction (and its item)', requestBody: body(createAuctionData),
          responses: { 201: { description: 'the auction snapshot' }, 409: { description: 'item_has_open_auction', ...json(error) }, ...errors } },
      },
      '/api/v1/auctions/{id}': {
        get: { summary: 'One auction', parameters: [idParam], responses: { 200: { description: 'the auction snapshot' }, 404: { description: 'auction_not_found', ...json(error) }, ...errors } },
      },
      '/api/v1/auctions/{id}/bids': {
        get: { summary: "An auction's accepted bids by seq", parameters: [idParam, ...params(listBidsData)],
          responses: { 200: { description: '{bids, next_since_seq}' }, 404: { description: 'auction_not_found', ...json(error) }, ...errors } },
        post: { summary: 'Place a bid', parameters: [idParam, { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 128 } }],
          requestBody: body(placeBidData),
          responses: { 201: { description: 'accepted' }, 200: { description: 'a retry of an accepted bid (duplicate: true)' },
            409: { description: 'rejected: error.code is the reason (too_low, ended, ...), with min_next_bid', ...json(error) },
            404: { description: 'auction_not_found', ...json(error) }, 504: { description: 'outcome_unknown: retry with the same Idempotency-Key', ...json(error) }, ...errors } },
      },
      '/api/v1/auctions/{id}/buy-now': {
        post: { summary: 'Buy now: ends the auction for you at its buy-now price', parameters: [idParam, { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', maxLength: 128 } }],
          responses: { 201: { description: 'bought (bought: true)' }, 200: { description: 'a retry (duplicate: true)' },
            409: { description: 'buy_now_unavailable, ended, cancelled or not_started', ...json(error) },
            404: { description: 'auction_not_found', ...json(error) }, ...errors } },
      },
      '/api/v1/items': {
        post: { summary: 'Create an item', requestBody: body(itemData), responses: { 201: { description: 'the item' }, ...errors } },
      },
    },
  };
}

export default async function openapiRoute(app: FastifyInstance) {
  const doc = openapiDocument();
  app.get('/openapi.json', async () => doc);
}
