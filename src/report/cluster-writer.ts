import type { Logger } from 'pino';
import { backoffDelay, giveUp, retry } from '../base/retry.js';
import type { Host } from '../host/host.js';
import { abortText } from '../host/kube/abort-text.js';
import { KubeApiError, type KubeClient } from '../host/kube/api-client.js';
import { createEvent, eventName, getNode, patchNodeLabel, patchNodeStatusCondition, type CallOptions, type NodeCondition, type NodeObject } from '../host/kube/node-api.js';
import type { Described } from './cluster-outcome.js';
import { awaitsKarpenter, untilKarpenterRegistered } from './karpenter-registration.js';

/**
 * The part of cluster reporting that talks to the API server; loaded only when reporting is on (cluster-report.ts
 * imports it lazily), so `plan`, `validate`, `status` and `--version` never load the Kubernetes client.
 */
export interface WriterConfig {
  kubeconfig: string;
  nodeName: string;
  condition: string;
  label: string | null;
  events: boolean;
  /** The machine: the Kubernetes API, through the kubeconfig. */
  host: Pick<Host, 'kube'>;
  /** For the lines of a wait (Karpenter's registration) that the SRE should see while it lasts. */
  log: Logger;
  random?: () => number;
}

export interface Budget {
  /** Aborted at the budget's end or when the run is stopped; the reason says which. */
  signal: AbortSignal;
  deadline: number;
  /** False once retrying is pointless (the Running report, when the final one wants the stage). */
  keepTrying?: () => boolean;
}

export interface WriteResult {
  /** The condition was written (or was not asked for: `only` left it out). */
  made: boolean;
  /** What could not be written, and why; empty when everything was. */
  errors: string[];
  /** With `final`: whether the label and the event were written; absent when not configured or not asked for. */
  label?: boolean;
  event?: boolean;
}

/** A later delivery (`postjoin report`) writes only what is missing, and dates the event when the run ended. */
export interface WriteOptions {
  only?: ReadonlySet<'condition' | 'label' | 'event'>;
  eventTime?: Date;
}

/** A healthy API server answers in milliseconds; a request past this is retried while the budget lasts. */
const REQUEST_CAP_MS = 10_000;
const RETRY_BASE_MS = 250;
/** An explicit cap: the task retry backoff's own default is not ours to depend on. */
const RETRY_CAP_MS = 5_000;

export class NodeWriter {
  private client: Promise<KubeClient> | undefined;

  constructor(private readonly cfg: WriterConfig) {}

  /** Writes the condition; with `final`, also the label and the event (with `opts.only`, just those). Never throws. */
  async write(desc: Described, final: boolean, b: Budget, opts: WriteOptions = {}): Promise<WriteResult> {
    const want = (part: 'condition' | 'label' | 'event') => opts.only?.has(part) ?? true;
    const errors: string[] = [];
    let node: NodeObject;
    try {
      const client = await this.connect();
      const read = () => this.retrying((o) => getNode(client, this.cfg.nodeName, o), b);
      node = await read();
      // Only True can race Karpenter's registration; a False report is always safe.
      if (final && desc.status === 'True' && want('condition') && awaitsKarpenter(node)) node = await untilKarpenterRegistered(node, { read, signal: b.signal, log: this.cfg.log });
      if (want('condition')) await this.retrying((o) => patchNodeStatusCondition(client, this.cfg.nodeName, this.condition(desc, node), o), b);
    } catch (err) {
      const what = want('condition') || !this.cfg.label ? `condition ${this.cfg.condition}=${desc.status}/${desc.reason}` : `label ${this.cfg.label}=${desc.label}`;
      return { made: false, errors: [`${what}: ${messageOf(err)}`] };
    }
    if (!final) return { made: true, errors };
    const client = await this.connect();
    const result: WriteResult = { made: true, errors };
    if (this.cfg.label && want('label')) {
      const label = this.cfg.label;
      result.label = await this.retrying((o) => patchNodeLabel(client, this.cfg.nodeName, label, desc.label, o), b).then(
        () => true,
        (err: unknown) => (errors.push(`label ${label}=${desc.label}: ${messageOf(err)}`), false),
      );
    }
    if (this.cfg.events && want('event')) {
      const ev = { node: this.cfg.nodeName, type: desc.eventType, reason: desc.eventReason, message: desc.message, time: opts.eventTime ?? new Date() };
      // Named once, before the retries: a retry of a POST that landed finds its own event (409) and stops.
      const name = eventName(ev.node, ev.time);
      result.event = await this.retrying((o) => createEvent(client, ev, name, o), b).then(
        () => true,
        (err: unknown) => (errors.push(`${desc.eventType} event ${desc.eventReason}: ${messageOf(err)}`), false),
      );
    }
    return result;
  }

  /**
   * After a Running write was cut in flight, the server may still apply it after the final one. Reads the
   * Node back once and writes the final condition again if the Running one won.
   */
  async confirm(desc: Described, b: Budget): Promise<void> {
    const client = await this.connect();
    const node = await this.retrying((o) => getNode(client, this.cfg.nodeName, o), b);
    const now = node.status?.conditions?.find((c) => c.type === this.cfg.condition);
    if (now?.status === desc.status && now.reason === desc.reason) return;
    await this.retrying((o) => patchNodeStatusCondition(client, this.cfg.nodeName, this.condition(desc, node), o), b);
  }

  /** The condition to write: lastTransitionTime kept while the status stays what it was (meta.SetStatusCondition's rule). */
  private condition(desc: Described, node: NodeObject): NodeCondition {
    const now = `${new Date().toISOString().slice(0, 19)}Z`;
    const current = node.status?.conditions?.find((c) => c.type === this.cfg.condition);
    const kept = current?.status === desc.status && typeof current.lastTransitionTime === 'string' ? current.lastTransitionTime : undefined;
    return {
      type: this.cfg.condition,
      status: desc.status,
      reason: desc.reason,
      message: desc.message,
      lastTransitionTime: kept ?? now,
      // Set on every write, as node-problem-detector does: "when did postjoin last say this".
      lastHeartbeatTime: now,
    };
  }

  /** The kubeconfig is read once per run; a read error is the report's error, not the run's. */
  private connect(): Promise<KubeClient> {
    this.client ??= this.cfg.host.kube(this.cfg.kubeconfig).catch((err: unknown) => {
      this.client = undefined; // the final report reads it again: nodeadm may have written it since
      throw err;
    });
    return this.client;
  }

  /** One call, retried with backoff while its errors are retryable and the budget lasts. */
  private retrying<T>(call: (o: CallOptions) => Promise<T>, b: Budget): Promise<T> {
    return retry(() => call({ signal: b.signal, timeoutMs: Math.max(1, Math.min(REQUEST_CAP_MS, b.deadline - Date.now())) }), {
      signal: b.signal,
      delayMs: (err, n) => {
        if (!(err instanceof KubeApiError) || !err.retryable || b.signal.aborted || b.keepTrying?.() === false) return giveUp(err);
        const wait = Math.max(backoffDelay(RETRY_BASE_MS, n, this.cfg.random, RETRY_CAP_MS), err.retryAfterMs ?? 0);
        if (Date.now() + wait >= b.deadline) return giveUp(new KubeApiError(`${err.message}; no time left to retry within kubernetes.timeout`, false, err.status));
        return wait;
      },
      stopped: (err) => {
        const e = err as KubeApiError;
        return new KubeApiError(`${e.message}; then ${abortText(b.signal)}`, false, e.status, undefined, e.reason, true);
      },
    });
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
