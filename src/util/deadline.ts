/**
 * Settles like `work`, unless `ms` pass first: then like `onTimeout()` (its value, or what it throws).
 * Needed because postgres.js has no client-side query timeout and a query on a reset connection may never settle.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  work.catch(() => {}); // the loser of the race must not surface as an unhandled rejection
  const late = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err);
      }
    }, ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
