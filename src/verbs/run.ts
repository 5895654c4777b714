import type { Logger } from 'pino';
import { formatDuration } from '../base/duration.js';
import { ExitCode, InvalidInput, PostjoinError, formatProblem } from '../base/errors.js';
import { StopReason, Stopped, reasonOf, throwIfStopped } from '../base/stop-reason.js';
import type { AgentConfig } from '../config/agent-config.js';
import { imdsIdentity } from '../host/aws/imds-identity.js';
import { machineIdIdentity, readBootId } from '../host/files/instance-identity.js';
import type { Host } from '../host/host.js';
import { createStatusReporter } from '../host/notify/systemd-notify.js';
import { allTasks, type Plan } from '../plan/task.js';
import { probesFor, waitUntilReady } from '../readiness/gate.js';
import { createLogger } from '../report/logger.js';
import { runPlan, type PlanOutcome } from '../runner/run-plan.js';
import { acquireRunLock, type RunLock } from '../state/run-lock.js';
import { RunRecorder } from '../state/run-recorder.js';
import { StateStore } from '../state/state-store.js';
import { hostFor, loadAgentConfig, loadPlan } from './load-plan.js';
import { readyToReport, reportFinal, startHandoff, taskContext, type Handoff } from './run-handoff.js';
import type { VerbContext } from './verb.js';

/**
 * `postjoin run`, what the unit runs: config, sources, plan, readiness, tasks. Every run records its
 * result in the state file, including one that ends in exit 2, 3 or 4, and no task starts unless the
 * whole plan validated and the node is ready.
 */
export async function run(ctx: VerbContext): Promise<number> {
  const log = createLogger({ fd: 1, level: ctx.logLevel });
  const notify = createStatusReporter();
  const started = Date.now();
  // The run's one stop signal (SIGTERM, SIGINT, runTimeout). Every wait gets it, before the tasks (IMDS, EC2,
  // readiness) as during them, and ends at once with a stop: exit 1, the state recorded.
  const stopper = new AbortController();
  // What the run is doing, for the signal's line: it says what the signal stops (a wait, the tasks, the report).
  // `handoff` is read only once the phase is 'after', by when it is assigned.
  let doing = 'loading the config';
  let phase: 'before' | 'tasks' | 'after' = 'before';
  const onSignal = (sig: NodeJS.Signals) => {
    if (phase === 'before') log.warn(`received ${sig} while ${doing}; no task will start, recording state`);
    else if (phase === 'tasks') log.warn(`received ${sig}; stopping the running task and recording state`);
    else if (handoff?.report.on) log.warn(`received ${sig} while reporting the result to the Node; the result is already saved: ending the report`);
    else log.warn(`received ${sig} while finishing; the result is already saved`);
    stopper.abort(StopReason.signal(sig));
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);

  // A run that cannot record state must not start: a `once` task would run again on the next boot, and
  // nobody could tell from `postjoin status` what happened. Exit 2 (the --state-dir is unusable input).
  let lock: RunLock | undefined;
  let recorder: RunRecorder;
  try {
    // The lock first: the previous state (its `done` list) is read only while no other run can change it.
    const bootId = await readBootId();
    await StateStore.prepare(ctx.stateDir);
    lock = await acquireRunLock(ctx.stateDir, bootId);
    const store = await StateStore.open(ctx.stateDir, log);
    recorder = new RunRecorder(store, bootId);
    await recorder.save();
  } catch (err) {
    const message = err instanceof InvalidInput ? err.message : `state dir ${ctx.stateDir} is not usable: ${(err as Error).message}`;
    log.error(`${message}; no task was started, and this run cannot be recorded`);
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    await lock?.release().catch(() => {});
    return ExitCode.invalid;
  }
  // The machine, as the config says (IMDS on or off): made once the config is read, released at the end.
  let host: Host | undefined;
  let exitCode: number = ExitCode.ok;
  let message: string | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const stop = stopper.signal;
  // Cluster handoff (design §4): known once the config is; a config that cannot be read cannot be reported.
  let config: AgentConfig | undefined;
  let handoff: Handoff | undefined;
  let outcome: PlanOutcome | undefined;
  let error: unknown;
  try {
    notify.status('loading config and sources');
    config = await loadAgentConfig(ctx.configPath, log);
    host = hostFor(config, log, stop);
    const runTimeoutMs = config.runTimeoutMs;
    deadline = setTimeout(() => stopper.abort(StopReason.deadline(runTimeoutMs)), runTimeoutMs);
    handoff = await startHandoff(config, { log, stop, host });
    doing = 'reading the task sources';
    const plan = await loadPlan(config, log, host, stop);
    throwIfStopped(stop, doing);
    recorder.setPlan(plan);
    const tasks = allTasks(plan).length;
    log.info({ steps: plan.steps.length, tasks }, `plan is valid: ${plan.steps.length} step(s), ${tasks} task(s)`);
    doing = 'reading the instance ID';
    const imds = host.imds();
    const identity = imds ? imdsIdentity(imds) : machineIdIdentity(ctx.stateDir);
    const instanceId = await identity.instanceId();
    throwIfStopped(stop, doing);
    recorder.setInstanceId(instanceId);
    await recorder.save();
    const context = taskContext(config, handoff, imds, { log, stop });
    void host.process.preload().catch(() => {}); // execa, off the path from readiness to the first task's spawn
    doing = 'waiting for readiness';
    await waitUntilReady(probesFor(config, host), { log, notify, stop, timeoutMs: config.readiness.timeoutMs });
    handoff.report.running(`${tasks} task(s)`); // beside the run: never delays the first task
    phase = 'tasks';
    outcome = await runPlan(plan, { config, log, host, instanceId, recorder, notify, stop, contextEnv: await context });
    exitCode = outcome.exitCode;
    message = outcome.message;
    summarize(log, plan, outcome.counts, exitCode, message, Date.now() - started);
  } catch (caught) {
    // Whatever a wait failed with once the stop fired (an aborted request, a budget cut short), the stop is the
    // cause. Invalid input is not: it is reported as such even when a stop came too.
    const err = stop.aborted && !(caught instanceof Stopped) && !(caught instanceof InvalidInput) ? new Stopped(`${reasonOf(stop)} while ${doing} (${(caught as Error).message})`) : caught;
    exitCode = err instanceof PostjoinError ? err.exitCode : ExitCode.taskFailed;
    message = reportFailure(log, err);
    error = err;
  } finally {
    recorder.finish(exitCode, message);
    try {
      await recorder.save();
    } catch (err) {
      log.error(`cannot write the final state: ${(err as Error).message}`);
      if (exitCode === ExitCode.ok) exitCode = ExitCode.taskFailed;
    }
    // The result is on disk first; the report (and for exits 2 and 4 the readiness it needs) comes after.
    phase = 'after';
    await readyToReport(error, handoff, config, { log, stop, host, notify });
    if (deadline) clearTimeout(deadline);
    const end = { exitCode, ...(message ? { message } : {}), error, tasks: recorder.state.tasks, ...(outcome ? { counts: outcome.counts } : {}), stop };
    await reportFinal(handoff, end, recorder, log);
    notify.status(exitCode === 0 ? 'done: all tasks succeeded' : `failed (exit ${exitCode}): ${message ?? ''}`);
    await Promise.all([notify.flush(), host?.close(), lock.release().catch(() => {})]);
    // Only now: a second SIGTERM while the final state is written must not kill the agent before it is.
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  }
  return exitCode;
}

function reportFailure(log: Logger, err: unknown): string {
  if (err instanceof InvalidInput) {
    for (const p of err.problems) log.error({ problem: p }, formatProblem(p));
    const msg = `invalid input: ${err.problems.length} problem(s); no task was started`;
    log.error(msg);
    const shown = err.problems.slice(0, 3).map(formatProblem).join('; ');
    return `${msg}: ${shown}${err.problems.length > 3 ? `; and ${err.problems.length - 3} more` : ''}`;
  }
  if (err instanceof PostjoinError) {
    log.error(`${err.message}; no task was started`);
    return err.message;
  }
  log.error({ err }, `unexpected error: ${(err as Error).message}`);
  return `unexpected error: ${(err as Error).message}`;
}

function summarize(log: Logger, plan: Plan, counts: Record<string, number>, exitCode: number, message: string | undefined, ms: number): void {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  const text = `${parts.length ? parts.join(', ') : 'no tasks'} in ${formatDuration(ms)}`;
  const fields = { ...counts, duration_ms: ms, steps: plan.steps.length, exit_code: exitCode };
  // A failure's summary is a warning, not an error: `journalctl -p err` shows only the failing task itself.
  if (exitCode === 0) log.info(fields, `run succeeded: ${text}`);
  else log.warn(fields, `run failed: ${message}; ${text}`);
}

