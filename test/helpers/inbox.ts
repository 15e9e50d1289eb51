// The messages a test socket received, in order, and waiters for the one a test expects: shared by the
// clients of both dialects (app.ts, original-client.ts).
import type { WebSocket } from 'ws';

export class Inbox<M> {
  readonly messages: M[] = [];
  private waiters: { from: number; pred: (m: M) => boolean; resolve: (m: M) => void }[] = [];
  /** what a timed-out wait says besides the last messages */
  private context: () => string;

  constructor(context: () => string = () => '') {
    this.context = context;
  }

  add(m: M) {
    const i = this.messages.push(m) - 1;
    this.waiters = this.waiters.filter((w) => (i >= w.from && w.pred(m) ? (w.resolve(m), false) : true));
  }

  /** The first message from index `from` on that matches `pred` (already received ones count), failing after `ms`. */
  next(pred: (m: M) => boolean, from = 0, ms = 5000): Promise<M> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting; got ${JSON.stringify(this.messages.slice(-5))}${this.context()}`)), ms);
      this.waiters.push({ from, pred, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }
}

/** Resolves when the upgrade succeeded; rejects with the refusal's status or the connection error. */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}
