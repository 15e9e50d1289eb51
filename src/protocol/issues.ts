import { z, type ZodError } from 'zod';

// A request that failed its schema is answered with one detail per invalid field, on the socket and in REST.

/** An error lists at most this many details (its message counts the rest). */
export const MAX_DETAILS = 20;

export const issueDetail = z.strictObject({
  path: z.string().describe('where in the request, as a dotted path: `body.item.name`, `query.limit`, `data.amount`'),
  message: z.string(),
});

export type IssueDetail = z.infer<typeof issueDetail>;

/** Each zod issue as {path, message}: an unknown key gets its own path, a root issue the prefix (or ''). */
export function issueDetails(err: ZodError, prefix: string[] = []): IssueDetail[] {
  return err.issues.flatMap((issue) => {
    const at = [...prefix, ...issue.path.map(segment)];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...at, segment(key)].join('.'), message: 'is not a known field' }));
    }
    return [{ path: at.join('.'), message: issue.message }];
  });
}

/** A key as sent may hold anything: keep the path one short line. */
function segment(key: PropertyKey) {
  return String(key).replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 64);
}

/** The details as one line: `data.amount: ...; data.foo: ...` (the first few). */
export function issueSummary(details: IssueDetail[], max = 3): string {
  const shown = details.slice(0, max).map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  return details.length > max ? `${shown}; and ${details.length - max} more` : shown;
}
