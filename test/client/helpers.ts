import type { Test } from 'tap';
import { AuctionClient, type ClientOptions, type SocketConstructor, type SocketLike } from '../../src/client/index.ts';
import { tokenFor } from '../helpers/app.ts';

/** Hooks a test can set on every socket a client opens: drop or change frames in either direction. */
export type Tap = {
  /** return false to swallow a frame the client sends */
  send?: (frame: any) => boolean;
  /** return undefined to swallow a message, or the (changed) message */
  receive?: (msg: any) => any;
};

/** The global WebSocket, with the frames going through `tap`. */
export function tappedSocket(tap: Tap): SocketConstructor {
  return class {
    private ws: WebSocket;
    onopen: ((ev: unknown) => void) | null = null;
    onmessage: ((ev: { data: unknown }) => void) | null = null;
    onclose: ((ev: { code: number; reason: string }) => void) | null = null;
    onerror: ((ev: unknown) => void) | null = null;
    constructor(url: string) {
      this.ws = new WebSocket(url);
      this.ws.onopen = (e) => this.onopen?.(e);
      this.ws.onclose = (e) => this.onclose?.(e);
      this.ws.onerror = (e) => this.onerror?.(e);
      this.ws.onmessage = (e) => {
        const msg = JSON.parse(String(e.data));
        const out = tap.receive ? tap.receive(msg) : msg;
        if (out !== undefined) this.onmessage?.({ data: JSON.stringify(out) });
      };
    }
    get readyState() {
      return this.ws.readyState;
    }
    send(data: string) {
      if (tap.send && !tap.send(JSON.parse(data))) return;
      this.ws.send(data);
    }
    close(code?: number, reason?: string) {
      this.ws.close(code, reason);
    }
  } satisfies new (url: string) => SocketLike;
}

/** A connected AuctionClient for `user`, closed at teardown. */
export async function clientFor(t: Test, url: ClientOptions['url'], user: string, opts: Partial<ClientOptions> = {}) {
  const { token, userId } = await tokenFor(user);
  const client = new AuctionClient({ url, token, requestTimeoutMs: 5000, backoff: { initialMs: 50, maxMs: 400 }, ...opts });
  t.teardown(() => client.close());
  await client.connect();
  return Object.assign(client, { userId });
}
