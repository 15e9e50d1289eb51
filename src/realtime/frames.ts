import { metrics } from '../metrics.ts';

/**
 * Server messages serialized once for every local subscriber: the JSON texts and, made on first use, their
 * WebSocket text frames back to back (a server's frames are unmasked, so every socket can be sent the same bytes).
 * Several messages go out in one write per socket: the cost of a send is the system call, not the bytes.
 */
export class Outgoing {
  readonly texts: string[] = [];
  /** UTF-16 length of the texts, a bound that needs no encoding */
  size = 0;
  private bytes: Buffer | undefined;

  /** a message of either dialect (protocol/render.ts, protocol/original/render.ts) */
  constructor(m?: object) {
    if (m) this.add(m);
  }

  /** The messages of several batches in order, as one write; nothing is serialized again. */
  static joined(parts: Outgoing[]): Outgoing {
    if (parts.length === 1) return parts[0];
    const o = new Outgoing();
    for (const p of parts) {
      o.texts.push(...p.texts);
      o.size += p.size;
    }
    o.bytes = Buffer.concat(parts.map((p) => p.frame));
    return o;
  }

  add(m: object) {
    const text = JSON.stringify(m);
    this.texts.push(text);
    this.size += text.length;
    this.bytes = undefined;
    metrics.fanoutMessages.inc();
  }

  get frame(): Buffer {
    return (this.bytes ??= this.texts.length === 1 ? textFrame(this.texts[0]) : Buffer.concat(this.texts.map(textFrame)));
  }
}

/** RFC 6455 §5.2: FIN + text opcode, 7/16/64-bit payload length, no mask, then the UTF-8 payload. */
export function textFrame(text: string): Buffer {
  const n = Buffer.byteLength(text);
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = Buffer.allocUnsafeSlow(head + n);
  f[0] = 0x81;
  if (head === 2) f[1] = n;
  else if (head === 4) {
    f[1] = 126;
    f.writeUInt16BE(n, 2);
  } else {
    f[1] = 127;
    f.writeBigUInt64BE(BigInt(n), 2);
  }
  f.write(text, head, 'utf8');
  return f;
}
