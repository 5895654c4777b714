// Runs the shared properties. Every property is a plain definition (an arbitrary and a check), so the normal
// run, `npm run fuzz` and the corpus replay use the very same code. Failing cases are written to
// test/corpus/<parser>/ as JSON.
//
// `npm test` must give the same answer every time on the same commit, so there each property runs its own
// `runs` cases from a fixed seed: the first 4 bytes of SHA-256("<parser>/<name>"), read as a signed 32-bit
// integer (fixedSeed below). The seed is stable across runs and machines and differs between properties; a
// renamed property gets a new one. One seed per property, not several: fast-check biases a run's early cases
// towards small values, and one stream of `runs` cases keeps the mix of small and large cases the property
// had before. A new counterexample is found by `npm run fuzz` (FUZZ_RUNS set), which draws a fresh random
// seed for every property and prints it, and lands in the corpus with its fix, never by a CI run at random.
import { createHash, randomInt } from 'node:crypto';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import fc from 'fast-check';
import { ROOT } from '../cli.js';

export const CORPUS_DIR = join(ROOT, 'test/corpus');

/** What the environment asks of a property run; `modeFromEnv` reads it, a test may build its own. */
export interface RunMode {
  /** `npm run fuzz` sets FUZZ_RUNS (at least 100000): random seeds and that many cases each. 0: `npm test`. */
  fuzzRuns: number;
  /** FUZZ_SEED: this seed instead of the fixed (or, when fuzzing, random) one. */
  seed?: number;
  /** FUZZ_PATH: replay only the case at this fast-check path of the seed's stream (needs a seed and a property). */
  path?: string;
  /** FUZZ_PROPERTY: run only the property of this exact name; the others in the file are skipped. */
  only?: string;
  /** FUZZ_CORPUS_DIR: where counterexamples are saved (the harness's own test saves into a temporary dir). */
  corpusDir: string;
  /** FUZZ_REPORT: a file each outcome is appended to, as a JSON line, for scripts/fuzz-summary.mjs. */
  report?: string;
}

export function modeFromEnv(env: NodeJS.ProcessEnv = process.env): RunMode {
  const seed = env.FUZZ_SEED === undefined || env.FUZZ_SEED === '' ? undefined : Number(env.FUZZ_SEED);
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED=${env.FUZZ_SEED} is not an integer`);
  const path = env.FUZZ_PATH || undefined;
  if (path !== undefined && !/^\d+(:\d+)*$/.test(path)) throw new Error(`FUZZ_PATH=${path} is not a fast-check path (numbers joined by ":")`);
  if (path !== undefined && (seed === undefined || !env.FUZZ_PROPERTY)) {
    throw new Error('FUZZ_PATH replays one case of one property: set FUZZ_SEED and FUZZ_PROPERTY too, as the failure message prints them');
  }
  return {
    fuzzRuns: Number(env.FUZZ_RUNS) || 0,
    ...(seed !== undefined ? { seed } : {}),
    ...(path !== undefined ? { path } : {}),
    ...(env.FUZZ_PROPERTY ? { only: env.FUZZ_PROPERTY } : {}),
    corpusDir: env.FUZZ_CORPUS_DIR || CORPUS_DIR,
    ...(env.FUZZ_REPORT ? { report: env.FUZZ_REPORT } : {}),
  };
}

export interface PropertyDef<T> {
  /** The corpus folder and the parser the closing note counts cases for: `userdata`, `words`, … */
  parser: string;
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Throws (an AssertionError or anything) when the property does not hold for `input`. */
  check(input: T): void | Promise<void>;
  /** Cases in the normal test run, always all of them: bounded so the whole property suite stays under a minute. */
  runs: number;
  /**
   * "Never hangs": the CPU time one case may take, in ms (default 2000). CPU time, not wall-clock time: only
   * this process's own work counts, so a shared machine's load cannot fail a case at random, while a
   * super-linear parser still does. A synchronous loop that never returns is ended by tap's file timeout.
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
  seed: number;
  runs: number;
  ms: number;
  slowestMs: number;
  slowestCpuMs: number;
  failure?: string;
  savedAs?: string;
  replay?: string;
}

/**
 * A failure's text made safe for tap's log: a raw U+2028, U+0085 or control character from a counterexample
 * breaks TAP's line parsing (the subtest then reads as "no tests found"), so all but the line break are escaped.
 */
export function forLog(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu, (c) => (c === '\n' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

interface TapLike {
  ok(v: unknown, msg: string): unknown;
  fail(msg: string): unknown;
}

/** The seed `npm test` runs a property with: the first 4 bytes of SHA-256("<parser>/<name>"), signed 32-bit. */
export function fixedSeed(def: Pick<PropertyDef<unknown>, 'parser' | 'name'>): number {
  return createHash('sha256').update(`${def.parser}/${def.name}`).digest().readInt32BE(0);
}

/** The seed a run uses: FUZZ_SEED if given, a fresh random one under `npm run fuzz`, else the fixed one. */
export function seedFor(def: Pick<PropertyDef<unknown>, 'parser' | 'name'>, mode: RunMode): number {
  if (mode.seed !== undefined) return mode.seed;
  return mode.fuzzRuns > 0 ? randomInt(-(2 ** 31), 2 ** 31) : fixedSeed(def);
}

/**
 * A POSIX shell word. Property names hold spaces and apostrophes; those go in double quotes, since tap's log
 * doubles every backslash (an `'\\''` would not survive a copy from it).
 */
function shellWord(s: string): string {
  if (/^[\w./:=@%+-]+$/.test(s)) return s;
  if (!s.includes("'")) return `'${s}'`;
  if (!/["$`\\!]/.test(s)) return `"${s}"`;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line that replays one failing case, from the log alone. */
export function replayCommand(def: Pick<PropertyDef<unknown>, 'name'>, seed: number, path: string, testFile: string): string {
  return `FUZZ_SEED=${seed} FUZZ_PATH=${path} FUZZ_PROPERTY=${shellWord(def.name)} npx tap --disable-coverage ${shellWord(testFile)}`;
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

/** Writes a failing case to <corpus>/<parser>/, named by its content, and returns the path. */
export function saveCounterexample<T>(def: PropertyDef<T>, input: T, failure: string, corpusDir = CORPUS_DIR): string {
  const dir = join(corpusDir, def.parser);
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
export function readCorpus(parser: string, corpusDir = CORPUS_DIR): CorpusCase[] {
  const dir = join(corpusDir, parser);
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

/** A path as the log shows it: relative inside the repository (where the replay command runs), else absolute. */
const shownPath = (p: string) => (relative(ROOT, p).startsWith('..') ? p : relative(ROOT, p));
/** The test file that runs the properties, as the replay command names it. */
const currentTestFile = () => shownPath(process.argv[1] ?? join(ROOT, 'test/properties'));

/** Runs one property and reports it to tap; returns what the closing note counts. */
export async function runProperty<T>(t: TapLike, def: PropertyDef<T>, mode: RunMode = modeFromEnv(), testFile = currentTestFile()): Promise<PropertyOutcome> {
  const fuzzing = mode.fuzzRuns > 0;
  const perRun = def.casesPerRun ?? 1;
  const runs = fuzzing ? Math.max(Math.ceil(mode.fuzzRuns / perRun), def.runs) : def.runs;
  const bound = def.maxCaseMs ?? 2_000;
  let slowest = 0;
  let slowestCpu = 0;
  const timed = async (input: T) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await def.check(input);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    slowest = Math.max(slowest, ms);
    slowestCpu = Math.max(slowestCpu, cpuMs);
    if (cpuMs > bound) throw new Error(`one case took ${Math.round(cpuMs)} ms of CPU, over the ${bound} ms bound (a hang or a super-linear path)`);
  };
  const seed = seedFor(def, mode);
  const started = performance.now();
  // No time limit: the same seed gives the same cases only if every run gets all of them, however slow the
  // machine. Shrinking is deterministic too (endOnFailure false), so the saved counterexample is the same.
  const details = await fc.check(fc.asyncProperty(def.arbitrary, timed), {
    numRuns: runs,
    seed,
    ...(mode.path !== undefined ? { path: mode.path } : {}),
    endOnFailure: false,
  });
  const ms = performance.now() - started;
  const outcome: PropertyOutcome = {
    name: def.name,
    parser: def.parser,
    seed,
    runs: details.numRuns * perRun,
    ms: Math.round(ms),
    slowestMs: Math.round(slowest),
    slowestCpuMs: Math.round(slowestCpu),
  };
  if (details.failed) {
    const report = (await fc.asyncDefaultReportMessage(details)) ?? 'failed';
    const why = String((details.errorInstance as Error | undefined)?.message ?? report);
    outcome.failure = why;
    if (details.counterexample) outcome.savedAs = shownPath(saveCounterexample(def, details.counterexample[0], why, mode.corpusDir));
    outcome.replay = replayCommand(def, details.seed, details.counterexamplePath ?? '', testFile);
    t.fail(
      `${def.parser}: ${def.name}: ${forLog(why.slice(0, 1500))}\n` +
        `seed ${details.seed}, path ${details.counterexamplePath}${outcome.savedAs ? `; the counterexample is saved as ${outcome.savedAs}` : ''}\n` +
        `replay it: ${outcome.replay}`,
    );
  } else {
    const how = fuzzing ? `seed ${seed} (random; FUZZ_SEED=${seed} runs it again)` : `seed ${seed}`;
    t.ok(true, `${def.parser}: ${def.name}: ${outcome.runs} cases, ${how}, in ${(ms / 1000).toFixed(1)} s, slowest case ${slowest.toFixed(1)} ms (CPU ${slowestCpu.toFixed(1)} ms)`);
  }
  if (mode.report) appendFileSync(mode.report, `${JSON.stringify({ ...outcome, failure: outcome.failure?.slice(0, 300) })}\n`);
  return outcome;
}

interface TapWithTests extends TapLike {
  test(name: string, fn: (t: TapLike) => Promise<unknown>): unknown;
  test(name: string, opts: { skip?: string | boolean }, fn: (t: TapLike) => Promise<unknown>): unknown;
}

/**
 * A test file's whole property suite: each property as a subtest (all but FUZZ_PROPERTY's skipped when it is
 * set), then the corpus of each parser named, replayed through the property each case was found by.
 */
export function propertySuite(t: TapWithTests, defs: readonly PropertyDef<never>[], corpora: readonly string[], mode: RunMode = modeFromEnv()): void {
  if (mode.only !== undefined && !defs.some((d) => d.name === mode.only)) {
    t.fail(`FUZZ_PROPERTY names no property of this file: ${JSON.stringify(mode.only)}`);
  }
  for (const def of defs) {
    const skip = mode.only !== undefined && def.name !== mode.only ? 'FUZZ_PROPERTY names another property' : false;
    t.test(def.name, { skip }, async (tt) => void (await runProperty(tt, def as PropertyDef<never>, mode)));
  }
  for (const parser of corpora) t.test(`corpus: ${parser}`, async (tt) => replayCorpus(tt as TapWithTests, parser, defs, mode.corpusDir));
}

/** Replays every corpus case of `parser` through the property it was found by (and any other it names). */
export async function replayCorpus(t: TapWithTests, parser: string, defs: readonly PropertyDef<never>[], corpusDir = CORPUS_DIR): Promise<void> {
  for (const c of readCorpus(parser, corpusDir)) {
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
        tt.fail(forLog(`${(err as Error).message}`));
      }
    });
  }
}
