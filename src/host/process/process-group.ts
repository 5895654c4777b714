import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { pollUntil } from '../../base/retry.js';
import { SPAWN_BASE, loadExeca, signalGroup } from './lazy-execa.js';
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
 * the task, even after `setsid`, can be found and reported.
 *
 * Through execa (`detached`, `extendEnv: false` with the task's whole environment, `buffer: false`), whose result
 * gives the exit, and for a program that could not start its code and message, naming a missing or non-directory
 * cwd. Three things stay here because execa's own do not fit the contract:
 * - The kill. execa's `cancelSignal` and `forceKillAfterDelay` signal the leader's pid only; the contract
 *   signals the group: one SIGTERM to all of it (kill(-pgid), the leader included, once), SIGKILL after the grace.
 * - The lines. With `buffer: false` execa keeps none of the output and keeps the pipes flowing, so a task never
 *   blocks on a full pipe; its `lines` need `buffer: true` (the whole output in memory) and its line transforms
 *   hold a line however long it grows, so chunks go to a LineSplitter that never holds more than 8 KiB.
 * - The drain. execa settles when the pipes close, which a daemon the task started may never let happen: after
 *   the leader exits they get a moment for the last output, then are destroyed (execa counts that as their end).
 */
export async function runInProcessGroup(spec: ProcessSpec): Promise<ProcessOutcome> {
  const marker = randomUUID();
  const splitters = {
    stdout: new LineSplitter(MAX_LINE, (l, t) => spec.onLine('stdout', l, t)),
    stderr: new LineSplitter(MAX_LINE, (l, t) => spec.onLine('stderr', l, t)),
  };
  const { execa } = await loadExeca();
  const child = execa(spec.command, [...spec.args], {
    ...SPAWN_BASE,
    detached: true,
    buffer: false,
    env: { ...inheritedEnv(), ...spec.env, [MARKER_ENV]: marker },
    extendEnv: false,
    ...(spec.cwd ? { cwd: spec.cwd } : {}),
  });
  const pid = child.pid; // undefined when it could not start
  child.stdout.on('data', (c: Buffer) => {
    if (spec.discardStdout?.()) spec.onDropped?.(c.length);
    else splitters.stdout.push(c);
  });
  child.stderr.on('data', (c: Buffer) => splitters.stderr.push(c));
  let drain: NodeJS.Timeout | undefined;
  child.once('exit', () => {
    drain = setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
    }, DRAIN_AFTER_EXIT_MS);
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

  const result = await child;
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

  // Neither an exit code nor a signal: it never ran (ENOENT, EACCES, a bad cwd, what Node refuses before it starts).
  const started = result.exitCode !== undefined || result.signal !== undefined;
  return {
    exitCode: result.exitCode ?? null,
    signal: result.signal ?? null,
    ...(started ? {} : { spawnError: `${result.code ? `${result.code}: ` : ''}${result.originalMessage ?? result.message}` }),
    killed,
    leftovers: pid === undefined ? [] : await findMarkedProcesses(marker, pid),
    ...(pid === undefined ? {} : { pid }),
  };
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
