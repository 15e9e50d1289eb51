// The client library as another project gets it: the package's "exports" entry, built JavaScript and .d.ts
// (dist/lib, made by `npm run build`), no .ts paths. A project of its own links this package, type-checks a
// TypeScript file against it, and runs the documented example against a real instance.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freshDb } from '../helpers/db.ts';
import { startInstance, tokenFor } from '../helpers/app.ts';
import { makeAuction, makeUser, bid } from '../helpers/fixtures.ts';

const root = resolve(import.meta.dirname, '../..');
const built = join(root, 'dist/lib/client/index.js');

t.ok(existsSync(built) && existsSync(join(root, 'dist/lib/client/index.d.ts')), 'the package is built (npm run build)');

// another project: its own directory, this package linked in as node_modules/auction-service
const project = mkdtempSync(join(tmpdir(), 'auction-consumer-'));
t.teardown(() => rmSync(project, { recursive: true, force: true }));
mkdirSync(join(project, 'node_modules'));
symlinkSync(root, join(project, 'node_modules', 'auction-service'), 'dir');
writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));

t.test('a TypeScript project type-checks against the .d.ts', async (t) => {
  copyFileSync(join(root, 'examples/consumer.ts'), join(project, 'consumer.ts'));
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'es2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true, noEmit: true, types: [], lib: ['es2022', 'dom'] },
    files: ['consumer.ts'],
  }));
  const out = (() => {
    try {
      return execFileSync(join(root, 'node_modules/.bin/tsc'), ['-p', project], { encoding: 'utf8' });
    } catch (err) {
      return (err as { stdout: string }).stdout || String(err);
    }
  })();
  t.equal(out, '', 'tsc reports nothing');
});

t.test('the documented example runs as plain JavaScript against a live instance', async (t) => {
  const db = await freshDb(t);
  const inst = await startInstance(t, db.url);
  const seller = await makeUser(db.sql, 'example-seller');
  const a = await makeAuction(db.sql, { seller, item: { name: 'Brass lamp' }, startingPrice: 10, minIncrement: 1 });
  t.ok((await bid(db.sql, a.id, await makeUser(db.sql, 'early'), '10.00')).accepted, 'an earlier bid: the auction is running');
  const carol = await tokenFor('carol');
  copyFileSync(join(root, 'examples/watch.mjs'), join(project, 'watch.mjs'));
  // without tap's loaders: the example runs as any other project's script would
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('TAP')));
  const child = spawn(process.execPath, ['watch.mjs', a.id, '12'], {
    cwd: project, env: { ...env, AUCTION_URL: inst.ws, AUCTION_TOKEN: carol.token, AUCTION_EVENTS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => { out += b; });
  child.stderr.on('data', (b: Buffer) => { err += b; });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  t.equal(code, 0, `exit code (stderr: ${err})`);
  t.same(out.trim().split('\n').sort(), [
    'bid 2: 12.00 by carol',
    'bid accepted: 12.00',
    'disconnected (1000)', // it closes after AUCTION_EVENTS events
    'watching Brass lamp by example-seller: active, 10.00, next bid from 11.00',
  ]);
});
