// `make bench`: runs the benchmark scenarios against disposable PostgreSQL clusters (or BENCH_DATABASE_URL, a role
// that may create databases), prints a table per scenario and rewrites the results part of docs/benchmarks.md.
// BENCH_QUICK=1 runs every scenario short and small. BENCH_ONLY=spread,hot,... runs a subset. Those two leave
// docs/benchmarks.md alone unless BENCH_WRITE_DOCS=1. BENCH_DURABLE=0|1|both picks the databases the bid
// scenarios run on (fsync off, durable, both); BENCH_ANCHORS=0 leaves the anchors out (bench/anchors/).
// Every child process has a hard time limit; nothing here asserts on timings.
import postgres from 'postgres';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { spawn, execFileSync } from 'node:child_process';
import { cpus, totalmem, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDbs, type BenchDb } from './databases.ts';
import { stopAll } from './processes.ts';
import { hot, spread } from './bids.ts';
import { fanout } from './fanout.ts';
import { channels, idle } from './connections.ts';
import { pgbenchVersion } from './anchors/pgbench.ts';
import { ANCHORS, DURABLE, ONLY, OVERRIDES, QUICK } from './settings.ts';
import { report, sections, table, verdicts } from './report.ts';

const root = fileURLToPath(new URL('../', import.meta.url));

async function ending(dbs: BenchDb[]) {
  const file = join(root, 'bench', 'ending.ts');
  if (!existsSync(file)) {
    report('6. Auction ending', 'Not run: bench/ending.ts does not exist in this tree.');
    return;
  }
  const out = await new Promise<string>((resolve) => {
    const p = spawn(process.execPath, [file, ...(QUICK ? ['200'] : [])], { env: { ...process.env, DATABASE_URL: dbs[0].adminUrl }, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => { text += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), QUICK ? 90_000 : 180_000);
    p.on('error', (err) => { clearTimeout(timer); resolve(`bench/ending.ts could not start: ${err.message}`); });
    p.on('exit', (code) => { clearTimeout(timer); resolve(code === 0 ? text.trim() : `${text.trim()}\n\n(bench/ending.ts exited with ${code})`); });
  });
  report('6. Auction ending (bench/ending.ts)', out);
}

// ---------------------------------------------------------------- main

/** The commit measured, and whether src/ or sql/ had uncommitted changes (other work in the same tree). */
function gitState() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'sql'], { cwd: root }).toString().trim().split('\n').filter(Boolean).length;
    return dirty ? `${head} + uncommitted changes in ${dirty} file(s) under src/ or sql/` : head;
  } catch {
    return 'unknown';
  }
}

async function facts(dbs: BenchDb[]) {
  const sql = postgres(dbs[0].adminUrl, { max: 1, onnotice: () => {} });
  const [{ version }] = await sql`select version()`;
  await sql.end();
  const settings = await Promise.all(dbs.map(async (db) => `${db.label}: ${await db.settings()}`));
  return {
    date: new Date().toISOString(),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    postgres: String(version).split(' on ')[0] + (process.env.BENCH_DATABASE_URL ? ' (BENCH_DATABASE_URL)' : ' (embedded, disposable)'),
    settings: settings.join('; '),
    node: process.version,
    code: gitState(),
    load: loadavg().map((x) => x.toFixed(2)).join(' '),
    anchors: ANCHORS ? `minimal bid function by ${pgbenchVersion() ?? 'postgres.js (no pgbench)'}; bare ws floor; Socket.IO ${socketIoVersion()} + @socket.io/postgres-adapter` : 'left out (BENCH_ANCHORS=0)',
  };
}

function socketIoVersion() {
  try {
    return (JSON.parse(readFileSync(join(root, 'node_modules', 'socket.io', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '(version unknown)';
  }
}

// bid scenarios run on every database; the others on the first (fsync off unless BENCH_DURABLE=1)
const scenarios: [string, (dbs: BenchDb[]) => Promise<void>][] = [
  ['spread', spread], ['hot', hot], ['fanout', fanout], ['idle', idle], ['channels', channels], ['ending', ending]];

let code = 0;
const started = Date.now();
let dbs: BenchDb[] = [];
process.on('SIGINT', () => { stopAll(); process.exit(130); });
try {
  dbs = await benchDbs(DURABLE);
  const machine = await facts(dbs);
  console.log(`# ${machine.cpu}, ${machine.memory}, ${machine.postgres}, Node ${machine.node}, load ${machine.load}${QUICK ? ', QUICK' : ''}`);
  console.log(`# databases: ${machine.settings}`);
  console.log(`# anchors: ${machine.anchors}`);
  if (Object.keys(OVERRIDES).length) console.log(`# instance settings: ${JSON.stringify(OVERRIDES)}`);

  for (const [name, fn] of scenarios) {
    if (ONLY && !ONLY.includes(name)) continue;
    const t = Date.now();
    try {
      await fn(dbs);
    } catch (err) {
      code = 1;
      console.error(`scenario ${name} failed:`, err);
      report(`${name}: FAILED`, '```\n' + String((err as Error).stack ?? err).slice(0, 2000) + '\n```');
    } finally {
      stopAll();
    }
    console.log(`# ${name} took ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  const totalS = (Date.now() - started) / 1000;
  console.log(`\n## Targets\n\n${targetsTable()}`);
  // a quick or partial run must not replace the full figures unless asked to
  if ((!QUICK && !ONLY) || process.env.BENCH_WRITE_DOCS === '1') {
    await writeReport(machine, totalS);
    console.log(`\n# done in ${totalS.toFixed(0)} s; wrote docs/benchmarks.md`);
  } else {
    console.log(`\n# done in ${totalS.toFixed(0)} s; docs/benchmarks.md left as is (BENCH_WRITE_DOCS=1 to write it)`);
  }
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  stopAll();
  for (const db of dbs) await db.close().catch((e) => console.error('closing a database:', e));
}
process.exit(code);

function targetsTable() {
  return table(['target', 'measured', 'met'], verdicts.map((v) => [v.target, v.measured, v.met === undefined ? '–' : v.met ? 'yes' : '**no**']));
}

/** Replaces what lies between the results markers of docs/benchmarks.md; the hand-written text stays. */
async function writeReport(machine: Awaited<ReturnType<typeof facts>>, totalS: number) {
  const file = join(root, 'docs', 'benchmarks.md');
  const START = '<!-- results:start (written by make bench) -->';
  const END = '<!-- results:end -->';
  const body = [
    START,
    `Run ${machine.date}${QUICK ? ' with BENCH_QUICK=1 (short, small: not the figures to quote)' : ''}${ONLY ? ` (only: ${ONLY.join(', ')})` : ''}${process.env.BENCH_SERVER_ENV ? ` with BENCH_SERVER_ENV=${process.env.BENCH_SERVER_ENV}` : ''}, ${totalS.toFixed(0)} s in all.`,
    '',
    table(['machine', ''], [['CPU', machine.cpu], ['memory', machine.memory], ['PostgreSQL', machine.postgres], ['settings', machine.settings],
      ['anchors', machine.anchors], ['Node', machine.node], ['code', machine.code], ['load average at start', machine.load]]),
    '',
    ...sections.flatMap((s) => [`### ${s.title}`, '', s.text, '']),
    '### Targets',
    '',
    'Rows whose "met" is – report a figure that has no target of its own.',
    '',
    targetsTable(),
    END,
  ].join('\n');
  let text = existsSync(file) ? await readFile(file, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + body + text.slice(b + END.length) : `${text.trimEnd()}\n\n${body}\n`;
  await writeFile(file, text);
}
