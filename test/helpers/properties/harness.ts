// Runs the shared properties: a bounded number of cases in the normal test run, and FUZZ_RUNS cases each
// under `npm run fuzz`. Every property is a plain definition (an arbitrary and a check), so the two runs and
// the corpus replay use the very same code. Failing cases are written to test/corpus/<parser>/ as JSON.
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ROOT } from '../cli.js';

export const CORPUS_DIR = join(ROOT, 'test/corpus');

/** `npm run fuzz` sets FUZZ_RUNS (at least 100000); the normal run uses each property's own small count. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS) || 0;
export const fuzzing = FUZZ_RUNS > 0;

export interface PropertyDef<T> {
  /** The corpus folder and the parser the closing note counts cases for: `userdata`, `words`, … */
  parser: string;
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Throws (an AssertionError or anything) when the property does not hold for `input`. */
  check(input: T): void | Promise<void>;
  /** Cases in the normal test run: bounded so the whole property suite stays under a minute. */
  runs: number;
  /**
   * "Never hangs": every case must finish within this many ms (generous: the machine is shared). A synchronous
   * parser cannot be interrupted, so a true hang is caught by tap's file timeout; this catches the slow ones.
   */
  maxCaseMs?: number;
  /** How a case is written to and read from the corpus; default JSON with Buffers as {base64}. */
  encode?(input: T): unknown;
  /** A case that checks a batch of inputs (one bash process for 100 of them) counts as that many. */
  casesPerRun?: number;
  decode?(stored: unknown): T;
}

export interface PropertyOutcome {
  name: string;
  parser: string;
  runs: number;
  ms: number;
  slowestMs: number;
  failure?: string;
  savedAs?: string;
}

interface TapLike {
  ok(v: unknown, msg: string): unknown;
  fail(msg: string): unknown;
}

/** JSON that keeps Buffers (as {base64}) so byte-exact inputs survive the corpus. */
export function toStored(v: unknown): unknown {
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { base64: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return v.map(toStored);
  if (v instanceof Map) return { map: [...v.entries()].map(toStored) };
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toStored(x)]));
  return v;
}

export function fromStored(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(fromStored);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.base64 === 'string' && Object.keys(o).length === 1) return Buffer.from(o.base64, 'base64');
    if (Array.isArray(o.map) && Object.keys(o).length === 1) return new Map(fromStored(o.map) as [unknown, unknown][]);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromStored(x)]));
  }
  return v;
}

/** Writes a failing case to test/corpus/<parser>/, named by its content, and returns the path. */
export function saveCounterexample<T>(def: PropertyDef<T>, input: T, failure: string): string {
  const dir = join(CORPUS_DIR, def.parser);
  mkdirSync(dir, { recursive: true });
  const stored = def.encode ? def.encode(input) : toStored(input);
  const body = JSON.stringify({ property: def.name, found: new Date().toISOString().slice(0, 10), failure: failure.split('\n')[0]?.slice(0, 300), input: stored }, null, 2);
  const file = join(dir, `${createHash('sha256').update(JSON.stringify(stored)).digest('hex').slice(0, 12)}.json`);
  writeFileSync(file, `${body}\n`);
  return file;
}

export interface CorpusCase {
  file: string;
  property: string;
  note?: string;
  input: unknown;
}

/** Every stored case of one parser, for the regression replay. */
export function readCorpus(parser: string): CorpusCase[] {
  const dir = join(CORPUS_DIR, parser);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  return names.map((n) => {
    const j = JSON.parse(readFileSync(join(dir, n), 'utf8')) as { property: string; note?: string; input: unknown };
    return { file: `${parser}/${n}`, property: j.property, ...(j.note ? { note: j.note } : {}), input: j.input };
  });
}

/** Runs one property and reports it to tap; returns what the closing note counts. */
export async function runProperty<T>(t: TapLike, def: PropertyDef<T>): Promise<PropertyOutcome> {
  const perRun = def.casesPerRun ?? 1;
  const runs = fuzzing ? Math.max(Math.ceil(FUZZ_RUNS / perRun), def.runs) : def.runs;
  const bound = def.maxCaseMs ?? 2_000;
  let slowest = 0;
  const timed = async (input: T) => {
    const t0 = performance.now();
    await def.check(input);
    const ms = performance.now() - t0;
    if (ms > slowest) slowest = ms;
    if (ms > bound) throw new Error(`one case took ${Math.round(ms)} ms, over the ${bound} ms bound (a hang or a super-linear path)`);
  };
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
  const started = performance.now();
  const details = await fc.check(fc.asyncProperty(def.arbitrary, timed), {
    numRuns: runs,
    ...(seed !== undefined ? { seed } : {}),
    // Shrinking a slow case can take long; keep it bounded.
    endOnFailure: false,
    interruptAfterTimeLimit: fuzzing ? undefined : 120_000,
    markInterruptAsFailure: false,
  });
  const ms = performance.now() - started;
  const outcome: PropertyOutcome = { name: def.name, parser: def.parser, runs: details.numRuns * perRun, ms: Math.round(ms), slowestMs: Math.round(slowest) };
  if (details.failed) {
    const report = (await fc.asyncDefaultReportMessage(details)) ?? 'failed';
    const why = String((details.errorInstance as Error | undefined)?.message ?? report);
    outcome.failure = why;
    if (details.counterexample) outcome.savedAs = saveCounterexample(def, details.counterexample[0], why);
    t.fail(`${def.parser}: ${def.name}: ${why.slice(0, 1500)}\n(seed ${details.seed}, path ${details.counterexamplePath}${outcome.savedAs ? `; saved as ${outcome.savedAs}` : ''})`);
  } else {
    t.ok(true, `${def.parser}: ${def.name}: ${outcome.runs} cases in ${(ms / 1000).toFixed(1)} s, slowest case ${slowest.toFixed(1)} ms`);
  }
  if (process.env.FUZZ_REPORT) appendFileSync(process.env.FUZZ_REPORT, `${JSON.stringify({ ...outcome, failure: outcome.failure?.slice(0, 300) })}\n`);
  return outcome;
}

/** Replays every corpus case of `parser` through the property it was found by (and any other it names). */
export async function replayCorpus(
  t: TapLike & { test(name: string, fn: (t: TapLike) => Promise<unknown>): unknown },
  parser: string,
  defs: readonly PropertyDef<never>[],
): Promise<void> {
  for (const c of readCorpus(parser)) {
    const def = defs.find((d) => d.name === c.property) as PropertyDef<unknown> | undefined;
    await t.test(`corpus ${c.file}: ${c.property}${c.note ? ` (${c.note})` : ''}`, async (tt) => {
      if (!def) {
        tt.fail(`no property named "${c.property}" for parser ${parser}`);
        return;
      }
      const input = def.decode ? def.decode(c.input) : fromStored(c.input);
      try {
        await def.check(input);
        tt.ok(true, 'holds');
      } catch (err) {
        tt.fail(`${(err as Error).message}`);
      }
    });
  }
}
