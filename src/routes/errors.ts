import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ZodError, ZodType } from 'zod';
import { AuthError } from '../auth/tokens.ts';
import { toClientError } from '../db/errors.ts';
import { OutcomeUnknownError } from '../domain/bids.ts';
import { MAX_DETAILS, issueDetails, issueSummary, type IssueDetail } from '../protocol/issues.ts';

// Every HTTP error answers {error: {code, message, details?}} (docs/protocol.md): fastify's own (404, body
// parsing, 413, 415, bad URLs) as well as the API's.

export class HttpError extends Error {
  status: number;
  code: string;
  extra: Record<string, unknown>;
  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string,
  extra: Record<string, unknown> = {}, details?: IssueDetail[]) {
  return reply.code(status).send({ error: details ? { code, message, details } : { code, message }, ...extra });
}

/** A request part that failed its zod schema; fastify gives it status 400 and passes it to the error handler. */
class RequestValidationError extends Error {
  details: IssueDetail[];
  constructor(part: string, err: ZodError) {
    const where = PARTS[part] ?? { prefix: part, label: `the ${part}` };
    const details = issueDetails(err, [where.prefix]);
    super(`${where.label} is invalid: ${issueSummary(details)}`);
    this.details = details.slice(0, MAX_DETAILS);
  }
}

const PARTS: Record<string, { prefix: string; label: string }> = {
  body: { prefix: 'body', label: 'the request body' },
  querystring: { prefix: 'query', label: 'the query string' },
  params: { prefix: 'path', label: 'the URL path' },
  headers: { prefix: 'header', label: 'a header' },
};

/** Validates a request part with its zod schema (the route's own, shared with the socket). */
export const validatorCompiler: FastifySchemaCompiler<ZodType> = ({ schema, httpPart }) => (data) => {
  const r = schema.safeParse(data);
  return r.success ? { value: r.data } : { error: new RequestValidationError(httpPart ?? 'body', r.error) };
};

const FASTIFY_ERRORS: Record<string, { status: number; code: string; message: (app: FastifyInstance) => string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: () => 'send the body as application/json' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', message: (app) => `the body is larger than ${app.initialConfig.bodyLimit} bytes` },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_body', message: () => 'the body is empty, but its content-type is application/json' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_body', message: () => 'the body is not valid JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_body', message: () => 'the body does not match its Content-Length' },
  FST_ERR_BAD_URL: { status: 400, code: 'invalid_url', message: () => 'the URL is not valid' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'invalid_url', message: () => 'a part of the URL is too long' },
};

/** The one mapping for every failure of an HTTP request: validation, auth, fastify's own, database rules, unknowns. */
export function errorHandler(this: FastifyInstance, err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (err instanceof HttpError) return sendError(reply, err.status, err.code, err.message, err.extra);
  if (err instanceof RequestValidationError) return sendError(reply, 400, 'invalid_argument', err.message, {}, err.details);
  if (err instanceof AuthError) return sendError(reply, 401, err.code, err.message);
  if (err instanceof OutcomeUnknownError) return sendError(reply, 504, err.code, 'no answer in time; retry with the same Idempotency-Key');
  const known = FASTIFY_ERRORS[err.code];
  if (known) return sendError(reply, known.status, known.code, known.message(this));
  // the JSON body parser's own failures: a syntax error, or a __proto__ / constructor.prototype key
  if (err instanceof SyntaxError && err.statusCode === 400) {
    return sendError(reply, 400, 'invalid_body', /prototype/.test(err.message)
      ? 'the body may not contain __proto__ or constructor.prototype keys' : 'the body is not valid JSON');
  }
  if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
    req.log.info({ err }, 'client error');
    return sendError(reply, err.statusCode, 'bad_request', `the request was refused (${STATUS_CODES[err.statusCode] ?? err.statusCode})`);
  }
  const ce = toClientError(err);
  if (ce.code === 'internal') req.log.error({ err }, 'request failed');
  return sendError(reply, ce.status, ce.code, ce.message);
}

export function notFoundHandler(req: FastifyRequest, reply: FastifyReply) {
  const url = req.url.split('?')[0].slice(0, 200);
  return sendError(reply, 404, 'not_found', `no route matches ${req.method} ${url}`);
}

/** A request node's HTTP parser refused (fastify's default answers in its own shape): the same shape, then close. */
export function clientErrorHandler(this: FastifyInstance, err: Error & { code?: string }, socket: Socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', 'the request took too long to arrive']
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'headers_too_large', 'the request headers are too large']
      : [400, 'bad_request', 'the request is not valid HTTP'];
  this.log.trace({ err }, 'client error');
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
      + `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
