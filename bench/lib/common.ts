// Shared by the benchmark scripts: statistics, public measuring tools (hyperfine, /usr/bin/time -v, callgrind),
// the machine's description, and the one argument convention (--quick, --json FILE).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ROOT } from '../../test/helpers/cli.js';

export { ROOT };
export const BUNDLE = join(ROOT, 'dist/postjoin.cjs');
export const SEA_X64 = join(ROOT, 'dist/postjoin-linux-x64');

/** Median with its spread. Quantiles by nearest rank, so every figure is one that was measured. */
export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  p10: number;
  p90: number;
}

export function stats(xs: number[], digits = 1): Stats {
  if (xs.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, p10: NaN, p90: NaN };
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))]!;
  const r = (x: number) => round(x, digits);
  return { n: s.length, median: r(median(s)), min: r(s[0]!), max: r(s.at(-1)!), p10: r(q(0.1)), p90: r(q(0.9)) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Quantile by nearest rank (p in 0..1). */
export function quantile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
}

export interface BenchArgs {
  quick: boolean;
  json?: string;
}

export function benchArgs(extra: NonNullable<ParseArgsConfig['options']> = {}): BenchArgs & { values: Record<string, unknown> } {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, json: { type: 'string' }, ...extra }, allowPositionals: false });
  const v = values as Record<string, unknown>;
  return { quick: v.quick === true, json: v.json as string | undefined, values: v };
}

export async function writeResult(file: string | undefined, result: unknown): Promise<void> {
  if (file) await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
}

/** The environment for measured commands: no test-runner loaders, no journal or notify socket. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_') && k !== 'JOURNAL_STREAM' && k !== 'NOTIFY_SOCKET'));
  return { ...env, ...extra };
}

export interface Exec {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command without a shell; never throws on a non-zero exit. */
export function exec(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${cmd}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

export async function execOk(cmd: string, args: string[], opts: Parameters<typeof exec>[2] = {}): Promise<Exec> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.trim().slice(-2000)}`);
  return r;
}

export function which(bin: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const p = join(dir, bin);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export interface HyperfineCommand {
  name: string;
  argv: string[];
}

export interface HyperfineResult {
  name: string;
  command: string;
  /** Wall time of every run, ms, all rounds together. */
  wallMs: number[];
  /** Mean user+system CPU time per round, ms. */
  cpuMsPerRound: number[];
  /** Median wall time per round, ms (rounds give the spread of a ratio). */
  medianMsPerRound: number[];
}

/**
 * hyperfine -N (no shell) over the commands, `rounds` times: a round runs every command in turn, so a change
 * in the machine's load during the benchmark shows up as spread between rounds rather than as a bias
 * against whichever command ran last.
 */
export async function hyperfine(commands: HyperfineCommand[], opts: { runs: number; warmup: number; rounds: number; env?: NodeJS.ProcessEnv }): Promise<HyperfineResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-hf-'));
  const out = new Map<string, HyperfineResult>(
    commands.map((c) => [c.name, { name: c.name, command: c.argv.join(' '), wallMs: [], cpuMsPerRound: [], medianMsPerRound: [] }]),
  );
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const file = join(dir, `round-${round}.json`);
      // Later rounds find the caches warm already: only the first one warms up.
      const args = ['-N', '--style', 'none', '--warmup', String(round === 0 ? opts.warmup : 0), '--runs', String(opts.runs), '--export-json', file];
      for (const c of commands) args.push('-n', c.name, c.argv.map(shellQuote).join(' '));
      await execOk('hyperfine', args, { env: opts.env ?? cleanEnv(), timeoutMs: 900_000 });
      const json = JSON.parse(await readFile(file, 'utf8')) as { results: { command: string; times: number[]; user: number; system: number; median: number }[] };
      for (const r of json.results) {
        const entry = out.get(r.command)!;
        entry.wallMs.push(...r.times.map((t) => t * 1000));
        entry.cpuMsPerRound.push((r.user + r.system) * 1000);
        entry.medianMsPerRound.push(r.median * 1000);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return [...out.values()];
}

/** Quotes for hyperfine's own word splitting (it splits -N commands like a shell, without running one). */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Instructions executed (all threads), from valgrind's callgrind: independent of the machine's load. */
export async function callgrindInstructions(argv: string[], env?: NodeJS.ProcessEnv): Promise<number | undefined> {
  if (!which('valgrind')) return undefined;
  const r = await exec('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', ...argv], { env: env ?? cleanEnv(), timeoutMs: 300_000 });
  const m = /Collected : (\d+)/.exec(r.stderr);
  return m ? Number(m[1]) : undefined;
}

export interface TimeV {
  maxRssKiB: number;
  userS: number;
  sysS: number;
  wallS: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One run under GNU time -v: peak resident set of the process (KiB), and its CPU time. */
export async function timeV(argv: string[], env?: NodeJS.ProcessEnv): Promise<TimeV> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-time-'));
  try {
    const file = join(dir, 'time.txt');
    const r = await exec('/usr/bin/time', ['-v', '-o', file, ...argv], { env: env ?? cleanEnv() });
    const text = await readFile(file, 'utf8');
    const num = (label: string) => Number(new RegExp(`${label}: ([0-9.:]+)`).exec(text)?.[1] ?? NaN);
    const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([0-9:.]+)/.exec(text)?.[1] ?? '0';
    const wallS = wall.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
    return { maxRssKiB: num('Maximum resident set size \\(kbytes\\)'), userS: num('User time \\(seconds\\)'), sysS: num('System time \\(seconds\\)'), wallS, code: r.code, stdout: r.stdout, stderr: r.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  memoryGiB: number;
  loadAverage: number[];
  hyperfine?: string;
  valgrind?: string;
  gitCommit?: string;
  gitDirty?: boolean;
}

export function machine(): Machine {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0];
    } catch {
      return undefined;
    }
  };
  const cpuModel = cpus()[0]?.model ?? (/model name\s*: (.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown');
  const status = version('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']);
  return {
    cpu: cpuModel.trim(),
    cores: cpus().length,
    kernel: release(),
    node: process.version,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    loadAverage: loadavg().map((x) => round(x, 2)),
    hyperfine: version('hyperfine', ['--version']),
    valgrind: version('valgrind', ['--version']),
    gitCommit: version('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']),
    gitDirty: status !== undefined && status !== '',
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A deterministic PRNG (mulberry32), so a simulated fleet is the same fleet in every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
