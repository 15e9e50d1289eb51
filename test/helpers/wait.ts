// Waiting for something to become true, for tests: the one polling helper. Prefer waiting for an event
// (a message, a promise); poll only for state that announces nothing (a row in the database, a socket set).

export type UntilOptions = { timeoutMs?: number; pollMs?: number; what?: string };

/** Resolves once `pred` holds (checked now, then every pollMs); fails after timeoutMs naming `what`. */
export async function until(pred: () => boolean | Promise<boolean>, o: UntilOptions | string = {}): Promise<void> {
  const { timeoutMs = 5000, pollMs = 10, what = 'condition' } = typeof o === 'string' ? { what: o } : o;
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
