// A small typed event emitter: on() returns the function that removes the listener.

export class Emitter<Events extends Record<string, unknown>> {
  private listeners = new Map<keyof Events, Set<(e: never) => void>>();
  /** called when a listener throws, so one bad callback does not break the others or the client */
  onListenerError: (err: unknown) => void = (err) => { console.error('auction client: a listener threw', err); };

  on<K extends keyof Events>(type: K, cb: (e: Events[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, set = new Set());
    set.add(cb as (e: never) => void);
    return () => { set.delete(cb as (e: never) => void); };
  }

  once<K extends keyof Events>(type: K, cb: (e: Events[K]) => void): () => void {
    const off = this.on(type, (e) => { off(); cb(e); });
    return off;
  }

  emit<K extends keyof Events>(type: K, e: Events[K]) {
    const set = this.listeners.get(type);
    if (!set) return;
    for (const cb of [...set]) {
      try {
        (cb as (e: Events[K]) => void)(e);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  listenerCount(type: keyof Events) {
    return this.listeners.get(type)?.size ?? 0;
  }
}
