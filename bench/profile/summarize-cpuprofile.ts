/**
 * Summarizes a V8 .cpuprofile (node --cpu-prof) as text:
 *   node bench/profile/summarize-cpuprofile.ts <file.cpuprofile> [top=25]
 * Self time by package (node_modules/<pkg>, server/src/<dir>, node: internals, GC, idle) and by
 * function, plus inclusive ("total") time of the functions that matter most.
 */
import { readFile } from 'node:fs/promises';

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: summarize-cpuprofile.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 25);
const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;

function bucket(url: string, name: string): string {
  if (name === '(garbage collector)') return '(GC)';
  if (name === '(idle)') return '(idle)';
  if (name === '(program)') return '(program: native, outside JS)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const src = /(server\/src\/.+\.ts)/.exec(url);
  if (src) return src[1]!;
  if (url.startsWith('node:')) return 'node: internals';
  return url ? url.replace(/^.*\//, '') : '(native)';
}

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfUs = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i += 1) {
  const id = profile.samples[i]!;
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const totalUs = [...selfUs.values()].reduce((a, b) => a + b, 0);
const idleUs = [...selfUs.entries()]
  .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
  .reduce((a, [, us]) => a + us, 0);
const busyUs = totalUs - idleUs;

const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
const packages = new Map<string, number>();
const functions = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, us] of selfUs) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  add(packages, bucket(url, functionName), us);
  const fn = `${functionName || '(anonymous)'} ${bucket(url, functionName)}:${lineNumber + 1}`;
  add(functions, fn, us);
  // Inclusive time: every distinct function on the stack of this sample.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${bucket(f.url, f.functionName)}:${f.lineNumber + 1}`;
    if (!seen.has(key)) {
      seen.add(key);
      add(inclusive, key, us);
    }
  }
}

// For the heaviest native and Node-internal functions: which library or server code called them.
const callers = new Map<string, Map<string, number>>();
for (const [id, us] of selfUs) {
  const f = byId.get(id)!.callFrame;
  const fn = `${f.functionName || '(anonymous)'} ${bucket(f.url, f.functionName)}:${f.lineNumber + 1}`;
  let cur = parent.get(id);
  while (cur !== undefined) {
    const b = bucket(byId.get(cur)!.callFrame.url, byId.get(cur)!.callFrame.functionName);
    if (b !== '(native)' && b !== 'node: internals') break;
    cur = parent.get(cur);
  }
  const c = cur === undefined ? undefined : byId.get(cur)!.callFrame;
  const caller = c
    ? `${c.functionName || '(anonymous)'} ${bucket(c.url, c.functionName)}:${c.lineNumber + 1}`
    : '(root)';
  const m = callers.get(fn) ?? new Map<string, number>();
  add(m, caller, us);
  callers.set(fn, m);
}

const pct = (us: number) => `${((us / busyUs) * 100).toFixed(1).padStart(5)}%`;
const list = (title: string, m: Map<string, number>, n: number, filter: (k: string) => boolean = () => true) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...m.entries()]
    .filter(([k]) => filter(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)) {
    console.log(`  ${pct(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
};
console.log(
  `${file}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy (percentages are of busy time)`,
);
list('self time by package', packages, top, (k) => k !== '(idle)');
list('self time by function', functions, top, (k) => !k.startsWith('(idle)'));
list('inclusive time (server code and key libraries)', inclusive, top, (k) =>
  /server\/src|mikro-orm|pg-boss|trpc|zod|pino|undici|kysely|rate-limiter/.test(k),
);

console.log('\nfirst library/server caller of the top native functions');
for (const [fn] of [...functions.entries()]
  .filter(([k]) => /\((native|node: internals)\)|node: internals/.test(k) && !k.startsWith('(idle)'))
  .sort((a, b) => b[1] - a[1])
  .slice(0, 6)) {
  console.log(`  ${fn}`);
  for (const [caller, us] of [...(callers.get(fn) ?? new Map<string, number>()).entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)) {
    console.log(`    ${pct(us)}  ${caller}`);
  }
}
