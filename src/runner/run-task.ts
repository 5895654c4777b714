import type { Logger } from 'pino';
import { formatDuration } from '../base/duration.js';
import { retry, taskRetryDelay } from '../base/retry.js';
import { StopReason, reasonOf } from '../base/stop-reason.js';
import type { AgentConfig } from '../config/agent-config.js';
import type { Host } from '../host/host.js';
import { TaskFailed } from '../kinds/kind.js';
import { kindNamed } from '../kinds/registry.js';
import type { SimpleTask } from '../plan/task.js';
import type { DoneRecord } from '../state/run-state.js';
import { createOutputForwarder } from './task-output.js';

export interface TaskRunDeps {
  config: AgentConfig;
  log: Logger;
  host: Host;
  instanceId: string;
  done: Readonly<Record<string, DoneRecord>>;
  /** Fires on SIGTERM or the run deadline: the attempt is killed and no retry follows. */
  stop: AbortSignal;
  random?: () => number;
  /** Extra time a kind gets to wind down after its signal fires, before the runner stops waiting for it. */
  windDownMs?: number;
  /**
   * What every task's environment gets about the node (POSTJOIN_NODE_NAME, the IMDS facts, the cluster name).
   * Not part of the once-state hash, which covers only the task's own env: a node renamed is the same work.
   */
  contextEnv?: Readonly<Record<string, string>>;
}

export interface TaskOutcome {
  status: 'succeeded' | 'failed' | 'continued' | 'skipped-done';
  attempts: number;
  startedAt: string;
  durationMs: number;
  exitCode?: number | null;
  error?: string;
}

export function isDone(task: SimpleTask, done: Readonly<Record<string, DoneRecord>>, instanceId: string): boolean {
  const d = done[task.name];
  return task.once && d !== undefined && d.instanceId === instanceId && d.hash === task.hash;
}

/** Runs one task: the once check, then attempts with timeout and backoff, logging each step. */
export async function runTask(task: SimpleTask, label: string, deps: TaskRunDeps): Promise<TaskOutcome> {
  const log = deps.log.child({ task: task.name, source: task.origin, kind: task.kind });
  const startedAt = new Date();
  const elapsed = () => Date.now() - startedAt.getTime();
  if (isDone(task, deps.done, deps.instanceId)) {
    log.info(`task ${label}: already done on this instance with this content; skipped`);
    return { status: 'skipped-done', attempts: 0, startedAt: startedAt.toISOString(), durationMs: 0 };
  }
  const total = task.retries + 1;
  let lastError = '';
  let exitCode: number | null | undefined;
  let attempt = 0;
  let alog = log;
  let t0 = 0;
  try {
    return await retry(
      async (n) => {
        attempt = n + 1;
        alog = log.child({ attempt });
        alog.info(`task ${label}: started${total > 1 ? ` (attempt ${attempt}/${total})` : ''}`);
        t0 = Date.now();
        const result = await runAttempt(task, alog, deps);
        alog.info(
          { duration_ms: Date.now() - t0, exit_code: result?.exitCode ?? null },
          `task ${label}: succeeded in ${formatDuration(elapsed())}`,
        );
        return { status: 'succeeded', attempts: attempt, startedAt: startedAt.toISOString(), durationMs: elapsed(), exitCode: result?.exitCode ?? null };
      },
      {
        // A stop (SIGTERM, the run deadline) ends the retries: the wait before the next attempt, or none at all.
        signal: deps.stop,
        delayMs(err) {
          lastError = (err as Error).message;
          exitCode = err instanceof TaskFailed ? err.exitCode : undefined;
          if (attempt >= total || deps.stop.aborted) throw err;
          const delay = taskRetryDelay(task.retryDelayMs, attempt - 1, deps.random);
          alog.warn(
            { duration_ms: Date.now() - t0, exit_code: exitCode ?? null, retry_in_ms: delay },
            `task ${label}: attempt ${attempt}/${total} failed: ${lastError}; retrying in ${formatDuration(delay)}`,
          );
          return delay;
        },
        stopped(err) {
          lastError = `${lastError}; then ${reasonOf(deps.stop)} before the retry`;
          return err;
        },
      },
    );
  } catch {
    return failed(attempt);
  }

  function failed(attempts: number): TaskOutcome {
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const fields = { duration_ms: elapsed(), exit_code: exitCode ?? null, attempts };
    const status = task.onFailure === 'continue' && !deps.stop.aborted ? 'continued' : 'failed';
    if (status === 'continued') log.warn(fields, `task ${label} failed${tries}, continuing (onFailure: continue): ${lastError}`);
    else log.error(fields, `task ${label} failed${tries}: ${lastError}`);
    return { status, attempts, startedAt: startedAt.toISOString(), durationMs: elapsed(), ...(exitCode !== undefined ? { exitCode } : {}), error: lastError };
  }
}

async function runAttempt(task: SimpleTask, log: Logger, deps: TaskRunDeps) {
  const kind = kindNamed(task.kind);
  if (!kind) throw new TaskFailed(`no task kind "${task.kind}" in this build`);
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(StopReason.timeout(task.timeoutMs)), task.timeoutMs);
  const onStop = () => ctl.abort(deps.stop.reason);
  if (deps.stop.aborted) onStop();
  else deps.stop.addEventListener('abort', onStop, { once: true });
  const output = createOutputForwarder(log);
  try {
    const work = kind.run(task.spec, {
      name: task.name,
      // The node's context, the task's name, then the task's own env, which wins.
      env: { ...deps.contextEnv, POSTJOIN_TASK: task.name, ...task.env },
      ...(task.cwd ? { cwd: task.cwd } : {}),
      signal: ctl.signal,
      log,
      output,
      policy: deps.config.policy,
      containerd: deps.config.containerd,
      host: deps.host,
    });
    const result = await raceWindDown(work, ctl.signal, deps.windDownMs ?? 8000);
    if (ctl.signal.aborted) throw new TaskFailed(reasonOf(ctl.signal));
    return result;
  } catch (err) {
    // Whatever the kind said, a fired signal is the real cause: the SRE needs "timed out after 5m".
    if (ctl.signal.aborted && !(err as Error).message.startsWith(reasonOf(ctl.signal))) {
      throw new TaskFailed(`${reasonOf(ctl.signal)} (${(err as Error).message})`, err instanceof TaskFailed ? err.exitCode : undefined);
    }
    throw err;
  } finally {
    clearTimeout(timer);
    deps.stop.removeEventListener('abort', onStop);
    output.finish();
  }
}

/** A kind that ignores its signal must not hang the run: after the wind-down period the runner moves on. */
async function raceWindDown<T>(work: Promise<T>, signal: AbortSignal, windDownMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let arm = () => {};
  const gaveUp = new Promise<never>((_, reject) => {
    arm = () => {
      timer = setTimeout(() => reject(new TaskFailed(`${reasonOf(signal)}; the task did not stop within ${formatDuration(windDownMs)}`)), windDownMs);
    };
  });
  gaveUp.catch(() => {});
  if (signal.aborted) arm();
  else signal.addEventListener('abort', arm, { once: true });
  try {
    return await Promise.race([work, gaveUp]);
  } finally {
    signal.removeEventListener('abort', arm);
    if (timer) clearTimeout(timer);
  }
}
