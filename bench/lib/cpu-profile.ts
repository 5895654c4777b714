// Summaries of V8 CPU profiles (node --cpu-prof): self time per function and per broad category.
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** idle, GC, V8 outside JavaScript ("program"), Node's own JavaScript, the bundle's JavaScript. */
  categoriesMs: Record<string, number>;
  top: { fn: string; where: string; selfMs: number }[];
}

export function summarizeCpuProfile(p: CpuProfile, topN = 15): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((s, i) => self.set(s, (self.get(s) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const categories: Record<string, number> = {};
  const fns = new Map<string, { fn: string; where: string; selfMs: number }>();
  let total = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
    const ms = us / 1000;
    total += ms;
    const cat =
      functionName === '(idle)' ? 'idle'
      : functionName === '(garbage collector)' ? 'gc'
      : functionName === '(program)' ? 'v8 (program)'
      : url.endsWith('.cjs') || url.includes('/dist/') ? 'bundle js'
      : url === '' ? 'native'
      : 'node js';
    categories[cat] = (categories[cat] ?? 0) + ms;
    const where = `${url.split('/').pop() || '(native)'}:${lineNumber + 1}:${columnNumber + 1}`;
    const key = `${functionName} ${where}`;
    const e = fns.get(key) ?? { fn: functionName || '(anonymous)', where, selfMs: 0 };
    e.selfMs += ms;
    fns.set(key, e);
  }
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    totalMs: r(total),
    categoriesMs: Object.fromEntries(Object.entries(categories).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, r(v)])),
    top: [...fns.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, topN).map((e) => ({ ...e, selfMs: r(e.selfMs) })),
  };
}
