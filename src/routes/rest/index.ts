import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { AuthError, type Identity } from '../../auth/tokens.ts';
import { toClientError } from '../../db/errors.ts';
import { createAuctionInput } from '../../domain/auctions.ts';
import { OutcomeUnknownError } from '../../domain/bids.ts';
import { accepted, auctionList, bidList, bought, rejected, snapshot } from '../../protocol/render.ts';
import { createAuctionData, idempotencyKey, idParams, itemData, listAuctionsData, listBidsData, placeBidData } from '../../protocol/requests.ts';
import { HttpError, invalid, send } from './errors.ts';

// REST beside the socket: the same operations and JSON shapes (docs/protocol.md, /openapi.json).

function parse<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw invalid(r.error, where);
  return r.data;
}

export default async function restRoutes(app: FastifyInstance) {
  const auctions = app.auctions;

  app.addHook('preHandler', async (req: FastifyRequest & { identity?: Identity }) => {
    req.identity = await app.authenticate(req);
  });

  // one mapping for every failure of this API: auth, validation, database rules, unknowns
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof HttpError) return send(reply, err.status, err.code, err.message, err.extra);
    if (err instanceof AuthError) return send(reply, 401, err.code, err.message);
    if (err instanceof OutcomeUnknownError) return send(reply, 504, err.code, 'no answer in time; retry with the same Idempotency-Key');
    const fastifyCode = (err as { code?: string }).code ?? '';
    if (fastifyCode.startsWith('FST_ERR_CTP') || (err as { statusCode?: number }).statusCode === 400) {
      return send(reply, (err as { statusCode?: number }).statusCode ?? 400, 'invalid_body', (err as Error).message);
    }
    const ce = toClientError(err);
    if (ce.code === 'internal') req.log.error({ err }, 'request failed');
    return send(reply, ce.status, ce.code, ce.message);
  });

  const key = (req: FastifyRequest) => {
    const header = req.headers['idempotency-key'];
    return header === undefined ? undefined : parse(idempotencyKey, header, 'Idempotency-Key header');
  };

  app.get('/api/v1/auctions', async (req) => auctionList(await auctions.listAuctions(parse(listAuctionsData, req.query, 'query'))));

  app.get('/api/v1/auctions/:id', async (req) => {
    const { id } = parse(idParams, req.params, 'path');
    const a = await auctions.getAuction(id);
    if (!a) throw new HttpError(404, 'auction_not_found', 'no such auction');
    return snapshot(a);
  });

  app.get('/api/v1/auctions/:id/bids', async (req) => {
    const { id } = parse(idParams, req.params, 'path');
    const q = parse(listBidsData, req.query, 'query');
    if (!(await auctions.getAuction(id))) throw new HttpError(404, 'auction_not_found', 'no such auction');
    return bidList(await auctions.bidsSince(id, q.since_seq, q.limit), q.limit);
  });

  app.post('/api/v1/items', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const body = parse(itemData, req.body, 'body');
    return reply.code(201).send(await auctions.createItem(req.identity!.userId, body.name, body.description ?? ''));
  });

  app.post('/api/v1/auctions', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const d = parse(createAuctionData, req.body, 'body');
    return reply.code(201).send(snapshot(await auctions.createAuction(createAuctionInput(req.identity!.userId, d))));
  });

  app.post('/api/v1/auctions/:id/bids', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const { id } = parse(idParams, req.params, 'path');
    const { amount, max_amount } = parse(placeBidData, req.body, 'body');
    const asked = { amount, maxAmount: max_amount };
    const r = await auctions.placeBid({ auctionId: id, userId: req.identity!.userId, ...asked, requestId: key(req) });
    if (r.accepted) return reply.code(r.duplicate ? 200 : 201).send(accepted(r));
    const status = r.reason === 'auction_not_found' ? 404
      : ['invalid_amount', 'invalid_max_amount', 'invalid_request_id'].includes(r.reason!) ? 400 : 409;
    const { message, data } = rejected(r, asked);
    return send(reply, status, r.reason!, message, data);
  });

  app.post('/api/v1/auctions/:id/buy-now', async (req: FastifyRequest & { identity?: Identity }, reply) => {
    const { id } = parse(idParams, req.params, 'path');
    const r = await auctions.buyNow({ auctionId: id, userId: req.identity!.userId, requestId: key(req) });
    return reply.code(r.duplicate ? 200 : 201).send(bought(r));
  });
}
