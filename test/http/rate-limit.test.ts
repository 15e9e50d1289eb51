import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { startInstance, tokenFor } from '../helpers/app.ts';

const db = await freshDb(t);

t.test('REST_RATE_LIMIT_PER_MIN: per user when authenticated, per address otherwise; health and metrics are not limited', async (t) => {
  const inst = await startInstance(t, db.url, { REST_RATE_LIMIT_PER_MIN: '3' });
  const as = async (user: string) => ({ authorization: `Bearer ${(await tokenFor(user)).token}` });
  const list = (headers: Record<string, string> = {}) => fetch(`${inst.http}/api/v1/auctions`, { headers });
  const busy = await as('busy');
  for (let i = 0; i < 3; i++) t.equal((await list(busy)).status, 200, `request ${i + 1} is served`);
  const over = await list(busy);
  t.equal(over.status, 429);
  t.ok(Number(over.headers.get('retry-after')) >= 1, 'with Retry-After');
  t.match(await over.json(), { error: { code: 'rate_limited', message: /more than 3 requests per minute/ } });
  t.equal((await list(await as('calm'))).status, 200, 'another user has a count of their own');

  for (let i = 0; i < 3; i++) t.equal((await list()).status, 401, 'no token: 401 while under the limit');
  const anon = await list();
  t.equal(anon.status, 429, 'requests without a valid token are counted by address');
  t.match(await anon.json(), { error: { code: 'rate_limited' } });

  for (const path of ['/health', '/ready', '/metrics']) {
    for (let i = 0; i < 4; i++) t.not((await fetch(`${inst.http}${path}`)).status, 429, `${path} is not limited`);
  }
});
