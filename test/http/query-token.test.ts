import t from 'tap';
import WebSocket from 'ws';
import { freshDb } from '../helpers/db.ts';
import { startInstance, tokenFor } from '../helpers/app.ts';

// REST takes the token in the Authorization header only; ?token= is refused on every route (docs/protocol.md).
const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const { token } = await tokenFor('query-token-user');
const doc = await (await fetch(`${inst.http}/openapi.json`)).json() as { paths: Record<string, Record<string, unknown>> };
const id = '33333333-3333-4333-8333-333333333333';
const routes = Object.entries(doc.paths).filter(([p]) => p.startsWith('/api/'))
  .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path: path.replace('{id}', id) })));

async function call(method: string, path: string, headers: Record<string, string> = {}) {
  const body = method === 'POST' ? '{}' : undefined;
  const res = await fetch(`${inst.http}${path}`, { method, body, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers } });
  return { status: res.status, body: await res.json() as { error?: { code: string } } };
}

t.test('every REST route refuses ?token= with 400 token_in_query, with or without the header', async (t) => {
  t.ok(routes.length >= 7, `the document lists the REST routes (${routes.length})`);
  for (const r of routes) {
    const alone = await call(r.method, `${r.path}?token=${token}`);
    t.equal(alone.status, 400, `${r.method} ${r.path}?token=`);
    t.equal(alone.body.error?.code, 'token_in_query');
    const both = await call(r.method, `${r.path}?token=${token}`, { authorization: `Bearer ${token}` });
    t.match(both, { status: 400, body: { error: { code: 'token_in_query' } } }, `${r.method} ${r.path}?token= with the header too`);
    const header = await call(r.method, r.path, { authorization: `Bearer ${token}` });
    t.not(header.body.error?.code, 'token_in_query', `${r.method} ${r.path} with the header only passes the token check`);
    t.not(header.status, 401, 'and is authenticated');
  }
});

t.test('the WebSocket upgrade keeps ?token= (browsers cannot set its headers)', async (t) => {
  const ws = new WebSocket(`${inst.ws}?token=${token}`);
  t.teardown(() => ws.terminate());
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  t.pass('opened');
});
