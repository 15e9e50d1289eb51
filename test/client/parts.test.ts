// The client library's small parts, without a server: backoff, the server clock, the emitter.
import t from 'tap';
import { backoffDelay, ServerClock } from '../../src/client/index.ts';
import { Emitter } from '../../src/client/emitter.ts';

t.test('backoff: exponential, jittered within [base/2, base], capped', async (t) => {
  const o = { initialMs: 100, maxMs: 1000 };
  t.equal(backoffDelay(0, { ...o, random: () => 0 }), 50);
  t.equal(backoffDelay(0, { ...o, random: () => 1 }), 100);
  t.equal(backoffDelay(3, { ...o, random: () => 1 }), 800);
  t.equal(backoffDelay(10, { ...o, random: () => 1 }), 1000);
  t.equal(backoffDelay(10, { ...o, random: () => 0 }), 500);
  t.equal(backoffDelay(1e6, o) <= 1000, true, 'huge attempts stay capped');
});

t.test('server clock: the reply with the shortest round trip wins; unrequested messages give a lower bound', async (t) => {
  let now = 1_000_000;
  const c = new ServerClock({ now: () => now });
  t.equal(c.offsetMs, 0);
  t.equal(c.uncertaintyMs, Infinity);
  c.addMessage(now + 4_900, now); // stamped 4.9 s ahead of our clock when it arrived: offset >= 4.9 s
  t.equal(c.offsetMs, 4_900);
  c.addReply(now + 5_000, now - 400, now); // round trip 400 ms: offset 5 200 +- 200
  c.addReply(now + 5_010, now - 20, now); // round trip 20 ms: offset 5 020 +- 10
  c.addReply(now + 5_500, now - 900, now);
  t.equal(c.offsetMs, 5_020);
  t.equal(c.uncertaintyMs, 10);
  now += 60_000;
  t.equal(c.serverNow(), now + 5_020);
  c.addReply(Number.NaN, now, now);
  t.equal(c.offsetMs, 5_020, 'a message without a timestamp changes nothing');
});

t.test('emitter: typed listeners, off(), once(), and a throwing listener does not stop the others', async (t) => {
  const e = new Emitter<{ a: number; b: string }>();
  const got: unknown[] = [];
  const errors: unknown[] = [];
  e.onListenerError = (err) => errors.push(err);
  const off = e.on('a', (n) => got.push(n));
  e.on('a', () => { throw new Error('boom'); });
  e.on('a', (n) => got.push(n * 10));
  e.once('b', (s) => got.push(s));
  e.emit('a', 1);
  e.emit('b', 'x');
  e.emit('b', 'y');
  off();
  e.emit('a', 2);
  t.same(got, [1, 10, 'x', 20]);
  t.equal(errors.length, 2);
  t.equal(e.listenerCount('a'), 2);
});
