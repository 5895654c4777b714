import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pollUntil } from '../../base/retry.js';
import { LineSplitter } from './line-splitter.js';

export type OutputStream = 'stdout' | 'stderr';

export interface ProcessSpec {
  command: string;
  args: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Aborting it (timeout, SIGTERM to the agent) kills the whole process group. */
  signal: AbortSignal;
  onLine(stream: OutputStream, line: string, truncated: boolean): void;
  /**
   * When it says true, stdout is no longer split into lines, only counted (`onDropped`): a task printing
   * 100 MB then costs the agent no more than reading it. stderr is always split, since its last line goes
   * into the failure message.
   */
  discardStdout?(): boolean;
  onDropped?(bytes: number): void;
  /** Grace between SIGTERM and SIGKILL to the group. */
  killGraceMs?: number;
}

export interface EscapedProcess {
  pid: number;
  command: string;
}

export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  /** The command could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
  /** True when the abort signal fired and the group was killed. */
  killed: boolean;
  /** Processes started by the task that were still alive after it ended: left in the group, or escaped by setsid. */
  leftovers: EscapedProcess[];
  pid?: number;
}

const MAX_LINE = 8 * 1024;

/** Lets the last output arrive after the leader exits, without waiting for a daemon that holds the pipe. */
const DRAIN_AFTER_EXIT_MS = 100;
export const MARKER_ENV = 'POSTJOIN_TASK_RUN';

type Ended = { exitCode: number | null; signal: string | null } | { spawnError: string };

/**
 * systemd's per-service variables address the agent's own unit: with NotifyAccess=all, any program holding
 * NOTIFY_SOCKET could rewrite the unit's status or its MAINPID. Children do not inherit them (design §4);
 * a task file whose `env` sets one explicitly still gets it, as its author asked.
 */
const SERVICE_ONLY_ENV = /^(NOTIFY_SOCKET|WATCHDOG_[A-Z_]*|LISTEN_[A-Z_]*)$/;

/** The agent's environment as every child started for a task inherits it: without the service-only variables. */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !SERVICE_ONLY_ENV.test(k)) out[k] = v;
  return out;
}

/**
 * Runs a command as the leader of its own process group, which is what lets a timeout kill the whole
 * tree (design §5). Every process it starts inherits a marker in its environment, so whatever outlives
 * the task, even after `setsid`, can be found and reported. node:child_process directly, not a wrapper: this
 * is all a task needs (detached, two pipes, the environment), and each task costs less CPU (issue 14).
 */
export async function runInProcessGroup(spec: ProcessSpec): Promise<ProcessOutcome> {
  const marker = randomUUID();
  const splitters = {
    stdout: new LineSplitter(MAX_LINE, (l, t) => spec.onLine('stdout', l, t)),
    stderr: new LineSplitter(MAX_LINE, (l, t) => spec.onLine('stderr', l, t)),
  };
  const env = { ...inheritedEnv(), ...spec.env, [MARKER_ENV]: marker };
  let child: ChildProcess;
  try {
    child = spawn(spec.command, [...spec.args], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env, ...(spec.cwd ? { cwd: spec.cwd } : {}) });
  } catch (err) {
    // Thrown at once for what can never start (a NUL in an argument, an empty command, E2BIG).
    return { exitCode: null, signal: null, spawnError: await failure(err, spec.cwd), killed: false, leftovers: [] };
  }
  const pid = child.pid;
  child.stdout?.on('data', (c: Buffer) => {
    if (spec.discardStdout?.()) spec.onDropped?.(c.length);
    else splitters.stdout.push(c);
  });
  child.stderr?.on('data', (c: Buffer) => splitters.stderr.push(c));
  const closed = [child.stdout, child.stderr].map((s) => {
    if (!s) return undefined;
    s.on('error', () => {}); // a pipe's read error ends in its close like any other end; the exit says how it went
    return s.closed ? undefined : new Promise<void>((r) => s.once('close', () => r()));
  });
  const ended = new Promise<Ended>((resolve) => {
    // A spawn that fails (ENOENT, EACCES, a bad cwd) emits 'error' and never 'exit'.
    child.once('error', (err) => void failure(err, spec.cwd).then((spawnError) => resolve({ spawnError })));
    child.once('exit', (exitCode, signal) => resolve({ exitCode, signal }));
  });

  let killed = false;
  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    if (pid === undefined || killed) return;
    killed = true;
    signalGroup(pid, 'SIGTERM');
    killTimer = setTimeout(() => signalGroup(pid, 'SIGKILL'), spec.killGraceMs ?? 5000);
  };
  if (spec.signal.aborted) onAbort();
  else spec.signal.addEventListener('abort', onAbort, { once: true });

  const end = await ended;
  // The pipes close when their last writer does, which a daemon the task started may never do: after the
  // leader exits they get a moment for the last output, then are destroyed.
  const drain = setTimeout(() => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  }, 'spawnError' in end ? 0 : DRAIN_AFTER_EXIT_MS);
  await Promise.all(closed);
  clearTimeout(drain);
  spec.signal.removeEventListener('abort', onAbort);
  splitters.stdout.end();
  splitters.stderr.end();

  if (killed && pid !== undefined) {
    // The leader may die at once while a child that ignores SIGTERM lives on in the group; give the group
    // the rest of the grace period, then SIGKILL it, before reporting what remains.
    await waitForGroupGone(pid, spec.killGraceMs ?? 5000);
    signalGroup(pid, 'SIGKILL');
    await waitForGroupGone(pid, 1000);
  }
  if (killTimer) clearTimeout(killTimer);

  return {
    ...('spawnError' in end ? { exitCode: null, signal: null, spawnError: end.spawnError } : end),
    killed,
    leftovers: pid === undefined ? [] : await findMarkedProcesses(marker, pid),
    ...(pid === undefined ? {} : { pid }),
  };
}

/**
 * `CODE: message`, as tasks have always reported it. A missing or non-directory cwd fails as ENOENT or ENOTDIR
 * of the spawn, which reads as if the program were missing: the cwd is named first (the words execa used).
 */
async function failure(err: unknown, cwd: string | undefined): Promise<string> {
  const e = err as NodeJS.ErrnoException;
  let message = String(e?.message ?? err);
  if (cwd && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) {
    const why = await stat(cwd).then(
      (st) => (st.isDirectory() ? undefined : `The "cwd" option is not a directory: ${cwd}.`),
      (statErr: Error) => `The "cwd" option is invalid: ${cwd}.\n${statErr.message}`,
    );
    if (why) message = `${why}\n${message}`;
  }
  return e.code ? `${e.code}: ${message}` : message;
}

function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    // ESRCH: the group is already gone.
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Until nothing is left in the group, or `ms` have passed. */
async function waitForGroupGone(pgid: number, ms: number): Promise<void> {
  await pollUntil(async () => (groupAlive(pgid) ? undefined : true), { signal: AbortSignal.timeout(ms), intervalMs: 25 });
}

/**
 * Finds live processes carrying the task's marker. Only PIDs from the leader's upward are read: descendants
 * are allocated later, and this keeps the scan to a handful of files per task (more where the PID counter has
 * wrapped, as on a host with the default pid_max of 32768). Synchronous on purpose: /proc is not a disk, its
 * reads do not wait on I/O, and each async read is four thread-pool round trips; async, this scan cost about
 * 3 ms of CPU per task here, synchronous 0.2 ms (docs/performance.md, P3).
 */
export async function findMarkedProcesses(marker: string, leaderPid: number): Promise<EscapedProcess[]> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const needle = `${MARKER_ENV}=${marker}\0`;
  const found: EscapedProcess[] = [];
  for (const e of entries) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid < leaderPid || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'latin1');
      if (!env.includes(needle)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
      if (/\) Z /.test(stat)) continue; // a zombie is already dead, only not yet reaped
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      found.push({ pid, command: cmdline.slice(0, 200) });
    } catch {
      // It exited while we looked, or is not ours to read.
    }
  }
  return found;
}
