import type { WsLike } from '../../src/realtime/transport.ts';

/** A `ws` socket as far as the server's transport sees it, recording what is sent and how it is closed. */
export function fakeSocket(o: { send?: (text: string) => void } = {}) {
  const ws = {
    readyState: 1, OPEN: 1, extensions: '', bufferedAmount: 0,
    sent: [] as string[], closed: undefined as [number, string] | undefined,
    send: (text: string) => { ws.sent.push(text); o.send?.(text); },
    ping: () => {}, terminate: () => {}, on: () => undefined,
    close: (code?: number, reason?: string) => { ws.closed = [code!, reason!]; },
  } satisfies WsLike & Record<string, unknown>;
  return ws;
}
