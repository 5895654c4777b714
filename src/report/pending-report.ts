import type { Logger } from 'pino';
import { InvalidInput } from '../base/errors.js';
import { formatDuration } from '../base/duration.js';
import { reasonOf } from '../base/stop-reason.js';
import type { KubernetesConfig } from '../config/agent-config.js';
import type { Host } from '../host/host.js';
import { acquireRunLock } from '../state/run-lock.js';
import type { ReportRecord, RunState } from '../state/run-state.js';
import { readState, saveState, STATE_FILE } from '../state/state-store.js';
import { afterTry, partsText, pendingOf } from './report-record.js';

/**
 * One try of `postjoin report`: deliver the outcome the last run could not, as its final report would have (the
 * same writer: strategic merge, lastTransitionTime kept, the same kubernetes.timeout), and record the try in
 * state.json. It holds the run lock while it reads, sends and records, so a `run` never interleaves with it; a run
 * that holds the lock makes this try fail without touching anything (the run reports its own outcome, which
 * replaces the pending one).
 */
export type TryResult =
  /** Exit 0: nothing to send (made, none recorded, replaced, or reporting switched off). */
  | { kind: 'nothing'; message: string; record?: ReportRecord }
  /** Exit 0: the condition and the label are on the Node now (`record.error`: the event was not). */
  | { kind: 'made'; message: string; record: ReportRecord }
  /** Exit 1. `retry`: another try may succeed (the API server, a run holding the lock); a corrupt state will not. */
  | { kind: 'failed'; message: string; retry: boolean; record?: ReportRecord };

export interface TryDeps {
  stateDir: string;
  configPath: string;
  kubernetes: KubernetesConfig;
  bootId: string | undefined;
  host: Pick<Host, 'kube'>;
  log: Logger;
  /** SIGTERM/SIGINT: cuts the try short; what was not sent stays pending. */
  stop: AbortSignal;
}

/** What the state dir says is to be sent; read without the lock first, so "nothing" costs no lock and no network. */
async function look(dir: string): Promise<{ result: TryResult } | { state: RunState & { report: ReportRecord } }> {
  const loaded = await readState(dir);
  if (loaded.kind === 'none') return { result: { kind: 'nothing', message: `nothing to report: no run recorded in ${dir}` } };
  if (loaded.kind === 'corrupt') return { result: { kind: 'failed', retry: false, message: `cannot report: the state file ${dir}/${STATE_FILE} is unreadable: ${loaded.reason}; the next run moves it aside` } };
  const { state } = loaded;
  const { report } = state;
  if (!report) {
    const why =
      state.result === 'running'
        ? `nothing to report: the last run (started ${state.startedAt}) has not finished, or died; a run reports its own result when it ends`
        : `nothing to report: the last run (started ${state.startedAt}) did not report to a Node (reporting was off, or its config could not be read)`;
    return { result: { kind: 'nothing', message: why } };
  }
  // Whether anything is left at all, by the record's own names; today's config decides what is sent.
  const p = pendingOf(report, { condition: report.condition, label: report.label?.key ?? null, events: true });
  if (p.kind === 'none') return { result: { kind: 'nothing', message: `nothing to report: ${p.why}`, record: report } };
  return { state: { ...state, report } };
}

export async function tryPendingReport(d: TryDeps): Promise<TryResult> {
  const first = await look(d.stateDir);
  if ('result' in first) return first.result;
  if (d.kubernetes.enabled === false) {
    return { kind: 'nothing', message: `not reporting: kubernetes.enabled is false in ${d.configPath}; the outcome stays pending in state.json (postjoin status shows it)`, record: first.state.report };
  }
  let lock;
  try {
    lock = await acquireRunLock(d.stateDir, d.bootId, 'report');
  } catch (err) {
    const why = err instanceof InvalidInput ? (err.problems[0]?.message ?? err.message) : (err as Error).message;
    return { kind: 'failed', retry: true, message: `not reported this time: ${why}`, record: first.state.report };
  }
  try {
    // Again under the lock: a run may have ended (and replaced the outcome) since the first look.
    const now = await look(d.stateDir);
    if ('result' in now) return now.result;
    return await deliver(now.state, d);
  } finally {
    await lock.release().catch(() => {});
  }
}

async function deliver(state: RunState & { report: ReportRecord }, d: TryDeps): Promise<TryResult> {
  const cfg = d.kubernetes;
  const p = pendingOf(state.report, cfg);
  if (p.kind === 'none') return { kind: 'nothing', message: `nothing to report: ${p.why}`, record: state.report };
  const started = Date.now();
  // Loaded only now: a report with nothing pending (every boot whose run reported) never loads the Kubernetes client.
  const { NodeWriter } = await import('./cluster-writer.js');
  const writer = new NodeWriter({ kubeconfig: cfg.kubeconfig, nodeName: p.record.node, condition: cfg.condition, label: cfg.label, events: cfg.events, host: d.host, log: d.log });
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new Error(`kubernetes.timeout (${formatDuration(cfg.timeoutMs)}) passed`)), cfg.timeoutMs);
  const onStop = () => ctl.abort(new Error(`${reasonOf(d.stop)}`));
  d.stop.addEventListener('abort', onStop, { once: true });
  if (d.stop.aborted) onStop();
  let w;
  try {
    w = await writer.write(p.desc, true, { signal: ctl.signal, deadline: started + cfg.timeoutMs }, { only: p.parts, ...(p.eventTime ? { eventTime: p.eventTime } : {}) });
  } finally {
    clearTimeout(timer);
    d.stop.removeEventListener('abort', onStop);
  }
  const record = afterTry(p, w, cfg, new Date(), Date.now() - started);
  const wrote = partsText([...p.parts].filter((part) => !record.missing?.includes(part)), p, cfg);
  try {
    await saveState(d.stateDir, { ...state, report: record });
  } catch (err) {
    // Delivered or not, the try cannot be recorded: the next try sends again what this one may have sent.
    d.log.error(`cannot record the try in ${d.stateDir}/${STATE_FILE}: ${(err as Error).message}`);
  }
  const at = `to Node ${record.node} (try ${record.tries}, pending since ${record.pendingSince})`;
  if (record.made) return { kind: 'made', record, message: `reported ${wrote} ${at}${record.error ? `; but ${record.error}` : ''}` };
  return { kind: 'failed', retry: true, message: `could not report ${at}: ${record.error ?? 'not made'}`, record };
}
