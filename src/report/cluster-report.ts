import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { formatDuration } from '../base/duration.js';
import { sleep } from '../base/sleep.js';
import { StopReason } from '../base/stop-reason.js';
import type { KubernetesConfig } from '../config/agent-config.js';
import type { Host } from '../host/host.js';
import type { ReportRecord } from '../state/run-state.js';
import { describeOutcome, describeRunning, type Outcome } from './cluster-outcome.js';
import type { Budget, NodeWriter, WriteResult } from './cluster-writer.js';
import { firstRecord } from './report-record.js';

/**
 * Cluster handoff (design §4): the run's result as one condition on the node's own Node object, plus a label
 * and an event. Reporting never throws to the caller and never changes the exit code; what could not be
 * reported is one warning line and the returned record, kept in the state file for `postjoin status` and, while
 * not made, for `postjoin report` to deliver later (report-record.ts).
 *
 * Time: `kubernetes.timeout` bounds what reporting adds to the run's wall time. The Running report goes beside
 * the tasks (cut at the timeout itself); the final one, settling the Running one first, returns within the
 * timeout of being called. After the stop signal, in-flight requests are dropped and the final report gets at
 * most STOPPED_REPORT_MS.
 */
export interface ClusterReport {
  /**
   * Whether this run may report: false only with enabled: false. With auto, each report decides when it is made
   * (the kubeconfig must exist then): a kubelet that bootstraps TLS writes it only once its CSR is approved.
   */
  readonly on: boolean;
  readonly nodeName: string;
  /** False/Running, sent beside the run: returns at once, never delays the caller. */
  running(detail?: string): void;
  /** The final condition, label and event. Undefined when reporting is off. Never throws. */
  final(outcome: Outcome): Promise<ReportRecord | undefined>;
}

export interface ClusterReportDeps {
  log: Logger;
  /** The run's stop signal (SIGTERM, SIGINT, the run deadline). */
  stop: AbortSignal;
  /** From resolveNodeName(). */
  nodeName: string;
  /** The machine: the Kubernetes API, reached with the kubeconfig. */
  host: Pick<Host, 'kube'>;
  random?: () => number;
}

export const STOPPED_REPORT_MS = 5_000;
/** How long the final report lets a Running request in flight finish before it drops it. */
const RUNNING_GRACE_MS = 2_000;

/** The Node's name (design §4): kubernetes.nodeName, else the kubelet's --hostname-override, else the host name. */
export async function resolveNodeName(cfg: Pick<KubernetesConfig, 'nodeName'>, opts: { envFile?: string; hostname?: () => string } = {}): Promise<string> {
  const { detectNodeName } = await import('../host/kube/node-name.js');
  return (await detectNodeName({ configured: cfg.nodeName, ...opts })).name;
}

export async function startClusterReport(cfg: KubernetesConfig, deps: ClusterReportDeps): Promise<ClusterReport> {
  if (cfg.enabled === false) {
    deps.log.debug('cluster reporting is off (kubernetes.enabled: false)');
    return { on: false, nodeName: deps.nodeName, running() {}, final: async () => undefined };
  }
  return new Reporter(cfg, deps);
}

/** Why a report is not made now, or undefined when it is: only `enabled: auto` without the kubeconfig says no. */
async function offNow(cfg: KubernetesConfig): Promise<string | undefined> {
  if (cfg.enabled !== 'auto') return undefined;
  const there = await stat(cfg.kubeconfig).then(
    () => true,
    () => false,
  );
  return there ? undefined : `kubernetes.enabled is auto and ${cfg.kubeconfig} does not exist (a kubelet that bootstraps TLS writes it once its CSR is approved)`;
}

interface RunningWrite {
  /** Whether the Running report found reporting off (auto without the kubeconfig), and why. */
  off: Promise<string | undefined>;
  done: Promise<WriteResult | undefined>;
  settled: boolean;
  ctl: AbortController;
}

class Reporter implements ClusterReport {
  readonly on = true;
  readonly nodeName: string;
  private writer: Promise<NodeWriter> | undefined;
  private runningWrite: RunningWrite | undefined;
  private finalWanted = false;
  private finalDone: Promise<ReportRecord | undefined> | undefined;

  constructor(
    private readonly cfg: KubernetesConfig,
    private readonly deps: ClusterReportDeps,
  ) {
    this.nodeName = deps.nodeName;
  }

  running(detail?: string): void {
    if (this.runningWrite || this.finalWanted || this.deps.stop.aborted) return;
    const budget = this.budget('running', this.cfg.timeoutMs, `kubernetes.timeout (${formatDuration(this.cfg.timeoutMs)}) passed`);
    const ctl = budget.ctl;
    const w: RunningWrite = { ctl, settled: false, off: offNow(this.cfg), done: Promise.resolve(undefined) };
    const started = Date.now();
    w.done = w.off
      .then(async (off) => {
        if (!off) return (await this.loadWriter()).write(describeRunning(detail), false, { ...budget, keepTrying: () => !this.finalWanted });
        this.deps.log.info(`not reporting Running to Node ${this.nodeName}: ${off}; the final report looks again`);
        return undefined;
      })
      .then((r) => {
        if (!r) return r;
        if (r.made) this.deps.log.info({ node: this.nodeName, duration_ms: Date.now() - started }, `reported ${this.cfg.condition}=False/Running to Node ${this.nodeName}`);
        else this.deps.log.info({ node: this.nodeName }, `could not report Running to Node ${this.nodeName} (the final report will try again): ${r.errors.join('; ')}`);
        return r;
      })
      .catch(() => undefined)
      .finally(() => {
        w.settled = true;
        budget.release();
      });
    this.runningWrite = w;
  }

  final(outcome: Outcome): Promise<ReportRecord | undefined> {
    this.finalDone ??= this.writeFinal(outcome);
    return this.finalDone;
  }

  private async writeFinal(outcome: Outcome): Promise<ReportRecord | undefined> {
    this.finalWanted = true;
    await this.runningWrite?.off; // its line first: the journal reads in order
    const off = await offNow(this.cfg);
    if (off) {
      this.deps.log.info(`not reporting to the Node: ${off}`);
      return undefined;
    }
    const started = Date.now();
    const stopped = this.deps.stop.aborted && this.signalled();
    const ms = stopped ? Math.min(this.cfg.timeoutMs, STOPPED_REPORT_MS) : this.cfg.timeoutMs;
    const budget = this.budget('final', ms, stopped ? `the ${formatDuration(ms)} allowed after the stop signal passed` : `kubernetes.timeout (${formatDuration(ms)}) passed`);
    const desc = describeOutcome(outcome);
    let result: WriteResult;
    try {
      const cut = await this.settleRunning(budget.deadline);
      const writer = await this.loadWriter();
      result = await writer.write(desc, true, budget);
      if (result.made && cut) await writer.confirm(desc, budget).catch((err: unknown) => result.errors.push(`confirming the final condition: ${(err as Error).message}`));
    } catch (err) {
      result = { made: false, errors: [(err as Error).message] };
    } finally {
      budget.release();
    }
    const durationMs = Date.now() - started;
    const what = `${this.cfg.condition}=${desc.status}/${desc.reason}`;
    const record = firstRecord(desc, result, this.cfg, this.nodeName, new Date(), durationMs);
    if (result.errors.length === 0) {
      this.deps.log.info({ node: this.nodeName, duration_ms: durationMs }, `reported ${what} to Node ${this.nodeName}`);
    } else {
      const later = record.made ? '' : `; it stays pending in state.json, and postjoin report sends it (postjoin-report.service tries again)`;
      this.deps.log.warn(
        { node: this.nodeName, duration_ms: durationMs },
        `could not report to Node ${this.nodeName}: ${result.errors.join('; ')}; the run's result and exit code are unchanged${later}`,
      );
    }
    return record;
  }

  /** Lets a Running write in flight finish (briefly), else drops it. True when one was cut: the server may still apply it. */
  private async settleRunning(deadline: number): Promise<boolean> {
    const w = this.runningWrite;
    if (!w || w.settled) return false;
    await Promise.race([w.done, sleep(Math.max(0, Math.min(RUNNING_GRACE_MS, deadline - Date.now())))]);
    if (w.settled) return false;
    w.ctl.abort(new Error('the final report took over'));
    await w.done;
    return true;
  }

  private loadWriter(): Promise<NodeWriter> {
    this.writer ??= import('./cluster-writer.js').then(
      (m) =>
        new m.NodeWriter({
          kubeconfig: this.cfg.kubeconfig,
          nodeName: this.nodeName,
          condition: this.cfg.condition,
          label: this.cfg.label,
          events: this.cfg.events,
          host: this.deps.host,
          log: this.deps.log,
          ...(this.deps.random ? { random: this.deps.random } : {}),
        }),
    );
    return this.writer;
  }

  /** Stopped by SIGTERM/SIGINT (or anything but the run deadline): systemd will not wait long. */
  private signalled(): boolean {
    const r: unknown = this.deps.stop.reason;
    return !(r instanceof StopReason && r.kind === 'deadline');
  }

  /**
   * A budget of ms: its signal aborts at the end (with `why`), or STOPPED_REPORT_MS after the stop signal for a
   * final report, or at once on the stop signal for the Running one.
   */
  private budget(kind: 'running' | 'final', ms: number, why: string): Budget & { ctl: AbortController; release(): void } {
    const ctl = new AbortController();
    const b = { signal: ctl.signal, deadline: Date.now() + ms, ctl, release };
    let timer = setTimeout(() => ctl.abort(new Error(why)), ms);
    const onStop = () => {
      if (kind === 'running') return ctl.abort(new Error('the run was stopped'));
      if (!this.signalled()) return; // the run deadline: the unit's TimeoutStartSec leaves room for the report
      const left = Math.min(b.deadline - Date.now(), STOPPED_REPORT_MS);
      clearTimeout(timer);
      b.deadline = Date.now() + left;
      timer = setTimeout(() => ctl.abort(new Error(`the ${formatDuration(STOPPED_REPORT_MS)} allowed after the stop signal passed`)), Math.max(0, left));
    };
    const stop = this.deps.stop;
    if (!stop.aborted) stop.addEventListener('abort', onStop, { once: true });
    function release() {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
    return b;
  }
}
