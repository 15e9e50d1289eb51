// What a run prints and what the results part of docs/benchmarks.md is made of: a section per scenario, then targets.
export const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
export const f1 = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n.toFixed(1) : '–');
export const ms = (n: number) => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n)} ms` : '–');
export const pc = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
/** a / b as "0.48×", or – when either is missing */
export const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '–');
export const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

export type Section = { title: string; text: string };
export const sections: Section[] = [];
/** met: undefined when the figure is reported as a ratio with no target set yet */
export const verdicts: { target: string; measured: string; met: boolean | undefined }[] = [];

export function report(title: string, text: string) {
  sections.push({ title, text });
  console.log(`\n## ${title}\n\n${text}\n`);
}
