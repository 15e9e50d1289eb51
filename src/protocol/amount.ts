import { z } from 'zod';

// Amounts cross the wire as JSON numbers (or strings like "601.50") and are kept as exact decimal strings.
const AMOUNT_TEXT = /^(?:0|[1-9]\d{0,9})(?:\.\d{1,2})?$/;

export const amountSchema = z
  .union([z.number(), z.string()])
  .describe('an amount: positive, at most two decimals, below 10^10; a JSON number or a string such as "601.50"')
  .transform((v, ctx) => {
    const text = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v.trim();
    if (!AMOUNT_TEXT.test(text) || Number(text) <= 0) {
      ctx.addIssue({ code: 'custom', message: 'amount must be a positive number with at most two decimals, below 10^10' });
      return z.NEVER;
    }
    return text;
  });

/** For outbound JSON: a decimal string with two places becomes a JSON number (exact at this range). */
export function toJsonAmount(value: string): number;
export function toJsonAmount(value: string | null | undefined): number | null;
export function toJsonAmount(value: string | null | undefined): number | null {
  return value == null ? null : Number(value);
}
