import type { FastifyReply } from 'fastify';
import type { ZodError } from 'zod';
import { z } from 'zod';

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

export function invalid(err: ZodError, where: string) {
  return new HttpError(400, 'invalid_argument', `${where}: ${z.prettifyError(err)}`.slice(0, 1000));
}

export function send(reply: FastifyReply, status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).send({ error: { code, message }, ...extra });
}
