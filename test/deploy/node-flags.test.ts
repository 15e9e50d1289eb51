// Every way to start an instance runs Node with the same V8 flags: package.json's start script is the source,
// the Docker image and `make run` repeat them (the bench reads them from package.json).
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

const root = new URL('../../', import.meta.url);
const flagsOf = (command: string) => command.split(/[\s",[\]]+/).filter((a) => a.startsWith('--'));

t.test('the Docker image and make run start Node with the start script\'s flags', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { scripts: { start: string } };
  const start = flagsOf(pkg.scripts.start);
  t.ok(start.includes('--max-semi-space-size=16'), `start script: ${pkg.scripts.start}`);
  const cmd = (await readFile(new URL('Dockerfile', root), 'utf8')).split('\n').find((l) => l.startsWith('CMD '));
  t.same(flagsOf(cmd ?? ''), start, `Dockerfile: ${cmd}`);
  const make = await readFile(new URL('Makefile', root), 'utf8');
  const run = make.split('\n').find((l) => l.includes('src/cli/run.ts'));
  t.same(flagsOf(run ?? ''), start, `Makefile run: ${run}`);
});

t.test('with those flags the young generation stays at 16 MiB per semi-space', async (t) => {
  const pkg = JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as { scripts: { start: string } };
  // allocate well past the cap, then read what V8 committed for the young generation (two semi-spaces)
  const out = execFileSync(process.execPath, [...flagsOf(pkg.scripts.start), '-e', `
    const v8 = require('node:v8'); let keep = [];
    for (let i = 0; i < 3e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 2e5) keep = []; }
    console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size)`], { encoding: 'utf8' });
  t.ok(Number(out) <= 32 * 2 ** 20, `new space committed: ${(Number(out) / 2 ** 20).toFixed(1)} MiB`);
});
