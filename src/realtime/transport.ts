import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { metrics } from '../metrics.ts';
import { CLOSE } from '../protocol/close-codes.ts';
import type { Outgoing } from './frames.ts';
import { TokenBucket } from './token-bucket.ts';

/** The part of a `ws` socket the transport uses. */
export type WsLike = Pick<WebSocket, 'readyState' | 'OPEN' | 'bufferedAmount' | 'extensions' | 'send' | 'close' | 'terminate' | 'ping'>
  & { on(event: 'pong', cb: () => void): unknown };
export type TcpLike = Pick<Socket, 'write'>;

export type TransportLimits = {
  /** a socket with more than this waiting to be sent is closed with 4008 */
  maxBufferedBytes: number;
  /** token bucket: messages per second, and the burst */
  ratePerSec: number;
  burst: number;
};

/** A message that passed the rate limit, as text; or why it did not. */
export type Admitted = { text: string } | { refused: 'rate_limited' | 'binary' } | { closed: true };

/**
 * One socket on the wire: frames in and out, the heartbeat, the rate limit, the send-buffer bound and
 * close codes. It knows nothing of messages beyond their text.
 */
export class SocketTransport {
  private ws: WsLike;
  /** the TCP socket under `ws`, written to directly with broadcast frames; undefined when an extension is negotiated */
  private tcp: TcpLike | undefined;
  private limits: TransportLimits;
  /** made by the first message: a socket that never speaks holds none */
  private bucket: TokenBucket | undefined;
  private strikes = 0;
  private alive = true;
  private closed = false;
  private now: () => number;

  constructor(ws: WsLike, limits: TransportLimits, tcp?: TcpLike, now: () => number = Date.now) {
    this.ws = ws;
    this.limits = limits;
    this.now = now;
    // ws frames nothing itself then: a broadcast frame written to the TCP socket cannot land inside another frame
    this.tcp = ws.extensions === '' ? tcp : undefined;
    ws.on('pong', () => { this.alive = true; });
  }

  /** true once this side closed or terminated the socket */
  get isClosing() {
    return this.closed;
  }

  /** One socket's own message (a string), or a broadcast serialized once for all (the same frame bytes to each: one write). */
  send(m: string | Outgoing) {
    const ws = this.ws;
    if (this.closed || ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.limits.maxBufferedBytes) {
      this.close(CLOSE.slowConsumer, 'slow consumer: resubscribe with since_seq');
      return;
    }
    if (typeof m === 'string') ws.send(m);
    else if (this.tcp) this.tcp.write(m.frame);
    else for (const text of m.texts) ws.send(text);
  }

  /** An inbound frame through the rate limit: its text, or why it is refused; a flood far over the limit closes with 4029. */
  admit(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Admitted {
    if (!this.take()) {
      if (++this.strikes > this.limits.burst) {
        this.close(CLOSE.rateLimited, 'rate limit exceeded');
        return { closed: true };
      }
      return { refused: 'rate_limited' };
    }
    if (isBinary) return { refused: 'binary' };
    return { text: Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(raw as Buffer[]).toString('utf8') };
  }

  /** One heartbeat: false (and the socket terminated) when the peer did not answer the previous ping. */
  heartbeat(): boolean {
    if (!this.alive) {
      this.terminate();
      return false;
    }
    this.alive = false;
    this.ws.ping();
    return true;
  }

  terminate() {
    this.closed = true;
    this.ws.terminate();
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    metrics.wsErrors.inc({ code: `close_${code}` });
    this.ws.close(code, reason);
  }

  private take(): boolean {
    const taken = (this.bucket ??= new TokenBucket(this.limits.ratePerSec, this.limits.burst, this.now)).take();
    if (taken) this.strikes = 0;
    return taken;
  }
}
