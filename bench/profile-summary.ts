// Summarizes V8 CPU profiles (BENCH_PROFILE=<dir> make bench writes one per child process):
//   node bench/profile-summary.ts <dir or .cpuprofile files> [--top=25]
// Per profile: wall time, share idle / GC / program, then the functions with the most self time
// and self time grouped by source (node internals, ws, postgres, fastify, this repo's files).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const files = args.filter((a) => !a.startsWith('--')).flatMap((a) =>
  statSync(a).isDirectory() ? readdirSync(a).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(a, f)) : [a]);

function source(url: string) {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url.split('/')[0] === 'node:internal' ? `node:${url.split('/')[1] ?? ''}` : url;
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/);
  if (m) return m[1];
  const r = url.match(/\/(src|bench|test)\/(.*)$/);
  return r ? `${r[1]}/${r[2]}` : url;
}

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = p.endTime - p.startTime;
  const fn = new Map<string, number>();
  const src = new Map<string, number>();
  let idle = 0, gc = 0, program = 0;
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') { idle += us; continue; }
    if (name === '(garbage collector)') gc += us;
    if (name === '(program)') program += us;
    const key = `${name} ${source(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const s = source(n.callFrame.url);
    src.set(s, (src.get(s) ?? 0) + us);
  }
  const busy = total - idle;
  const pct = (us: number, of = total) => `${((us / of) * 100).toFixed(1)}%`;
  console.log(`\n== ${basename(file)}: ${(total / 1e6).toFixed(1)} s profiled, busy ${pct(busy)} (GC ${pct(gc)}, program ${pct(program)})`);
  console.log('  self time by function (share of busy time):');
  for (const [k, us] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`    ${pct(us, busy).padStart(6)}  ${k}`);
  console.log('  self time by source:');
  for (const [k, us] of [...src].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`    ${pct(us, busy).padStart(6)}  ${k}`);
}
