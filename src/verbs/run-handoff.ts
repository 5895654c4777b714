import type { Logger } from 'pino';
import { ExitCode, PostjoinError } from '../base/errors.js';
import type { AgentConfig } from '../config/agent-config.js';
import type { ImdsClient } from '../host/aws/imds-client.js';
import type { Host } from '../host/host.js';
import type { StatusReporter } from '../host/notify/systemd-notify.js';
import { probesFor, waitUntilReady } from '../readiness/gate.js';
import { outcomeOf, type RunEnd } from '../report/cluster-outcome.js';
import { resolveNodeName, startClusterReport, type ClusterReport } from '../report/cluster-report.js';
import { taskContextEnv } from '../runner/task-env.js';
import type { RunRecorder } from '../state/run-recorder.js';

/**
 * Cluster handoff as `run` does it (design §4, docs/cluster-handoff.md): the node's name, the report to its Node
 * (Running after readiness, the result at the end), and what every task's environment gets about the node.
 * Reporting never throws and never changes the exit code.
 */
export interface Handoff {
  readonly nodeName: string;
  readonly report: ClusterReport;
}

export interface HandoffDeps {
  log: Logger;
  stop: AbortSignal;
}

/** Detects the node's name (also with reporting off: the tasks get it) and prepares the report; no network yet. */
export async function startHandoff(config: AgentConfig, deps: HandoffDeps & { host: Pick<Host, 'kube'> }): Promise<Handoff> {
  const nodeName = await resolveNodeName(config.kubernetes);
  const report = await startClusterReport(config.kubernetes, { ...deps, nodeName });
  return { nodeName, report };
}

/**
 * POSTJOIN_NODE_NAME, the IMDS facts and the cluster name, for every task (a task's own env wins, in the runner).
 * Started before readiness so its IMDS reads overlap the wait; bounded by imds.budget and the stop signal.
 */
export function taskContext(config: AgentConfig, h: Handoff, imds: ImdsClient | undefined, deps: HandoffDeps): Promise<Record<string, string>> {
  return taskContextEnv({
    nodeName: h.nodeName,
    ...(imds ? { imds: (p: string) => imds.getText(p) } : {}),
    kubeconfig: config.kubernetes.kubeconfig,
    log: deps.log,
    stop: deps.stop,
  }).catch(() => ({ POSTJOIN_NODE_NAME: h.nodeName }));
}

/**
 * Exits 2 and 4 come before readiness, when the Node may not be registered and the API server not reachable
 * yet: with reporting on, wait for readiness (bounded by readiness.timeout and the stop signal, as always) so the
 * result can be reported. Whatever the wait ends with, the exit code stays the caller's.
 */
export async function readyToReport(
  err: unknown,
  h: Handoff | undefined,
  config: AgentConfig | undefined,
  deps: HandoffDeps & { host: Host | undefined; notify: StatusReporter },
): Promise<void> {
  const code = err instanceof PostjoinError ? err.exitCode : undefined;
  if (!h?.report.on || !config || !deps.host || (code !== ExitCode.invalid && code !== ExitCode.sourceError) || deps.stop.aborted) return;
  deps.log.info(`waiting for readiness to report this result to Node ${h.nodeName}, then exiting ${code}`);
  try {
    await waitUntilReady(probesFor(config, deps.host), { ...deps, timeoutMs: config.readiness.timeoutMs });
  } catch (e) {
    deps.log.info(`${(e as Error).message}; reporting the result as it is`);
  }
}

/**
 * The final report, after the state was saved: a report that takes its whole kubernetes.timeout never holds up
 * the recorded result. The record goes into the state too, for `postjoin status` and, when it was not made, for
 * `postjoin report` to deliver later.
 */
export async function reportFinal(h: Handoff | undefined, end: RunEnd, recorder: RunRecorder, log: Logger): Promise<void> {
  if (!h) {
    log.info('not reported to the Node: the config that says how (kubernetes.kubeconfig) could not be read');
    return;
  }
  const record = await h.report.final(outcomeOf(end));
  if (!record) return;
  // When the run ended: a report delivered later by `postjoin report` dates its event then, not at delivery.
  recorder.setReport({ ...record, ...(recorder.state.finishedAt ? { endedAt: recorder.state.finishedAt } : {}) });
  await recorder.save().catch((err: unknown) => log.warn(`cannot write the report's record to the state file: ${(err as Error).message}`));
}
