import type { Logger } from 'pino';
import { formatDuration } from '../base/duration.js';
import { pollUntil } from '../base/retry.js';
import { abortText } from '../host/kube/abort-text.js';
import type { NodeObject } from '../host/kube/node-api.js';

/**
 * Karpenter's registration race (issue 17, item 5). Karpenter (sigs.k8s.io/karpenter 1.x) has the kubelet
 * register its nodes with the taint `karpenter.sh/unregistered:NoExecute`; its registration
 * (pkg/controllers/nodeclaim/lifecycle/registration.go) then patches the Node once: the NodeClaim's labels and
 * annotations, its taints and the NodePool's startupTaints merged in (unless the Node has
 * `karpenter.sh/do-not-sync-taints=true`), that taint removed, `karpenter.sh/registered=true`. Where it merges the
 * startup taints, a True reported before that patch lets node-readiness-controller remove the startup taint and
 * record the node as done, after which Karpenter adds it back and nothing removes it. So True waits for the patch.
 */
export const UNREGISTERED_TAINT = 'karpenter.sh/unregistered';
export const NODEPOOL_LABEL = 'karpenter.sh/nodepool';
export const REGISTERED_LABEL = 'karpenter.sh/registered';

/**
 * Karpenter registers a Node in one reconcile of the NodeClaim it watches the Node appear for, so it has
 * normally happened long before the tasks end, and the first read already shows it. A wait is for a Karpenter
 * that is behind or down: every 2 s finds the patch within 2 s of it, and costs one GET of the node's own Node
 * per 2 s (15 in the default 30 s budget), less than the kubelet's own status and lease writes during boot.
 */
export const KARPENTER_POLL_MS = 2_000;

/** A Karpenter node whose registration patch has not come yet: the taint still on, or a NodePool's node not marked registered. */
export function awaitsKarpenter(node: NodeObject): boolean {
  if ((node.spec?.taints ?? []).some((t) => t.key === UNREGISTERED_TAINT)) return true;
  const labels = node.metadata.labels ?? {};
  return labels[NODEPOOL_LABEL] !== undefined && labels[REGISTERED_LABEL] !== 'true';
}

export interface RegistrationWait {
  /** Reads the Node (retried within the budget by the caller). */
  read(): Promise<NodeObject>;
  /** The report's budget: its end (kubernetes.timeout, or the stop) ends the wait. */
  signal: AbortSignal;
  log: Logger;
  intervalMs?: number;
}

/** Why True is not reported: the Node is still not registered when the budget ends. */
export class NotRegistered extends Error {}

/**
 * Waits until Karpenter has registered `node`, reading it again every KARPENTER_POLL_MS within the budget, and
 * returns the registered Node; throws NotRegistered when the budget (or the run) ends first.
 */
export async function untilKarpenterRegistered(node: NodeObject, w: RegistrationWait): Promise<NodeObject> {
  const name = node.metadata.name;
  const started = Date.now();
  w.log.info({ node: name }, `waiting for Karpenter to register Node ${name} before reporting True (the startup taint must be on first)`);
  let last = node;
  let looks = 0;
  const registered = await pollUntil(
    async () => {
      // The first look is at the Node just read; a read cut by the budget's end keeps the last one.
      if (looks++ > 0) last = await w.read().catch((err: unknown) => (w.signal.aborted ? last : Promise.reject(err)));
      return awaitsKarpenter(last) ? undefined : last;
    },
    { signal: w.signal, intervalMs: w.intervalMs ?? KARPENTER_POLL_MS },
  );
  if (registered) {
    w.log.info({ node: name, duration_ms: Date.now() - started }, `Karpenter registered Node ${name} after ${formatDuration(Date.now() - started)}; reporting True`);
    return registered;
  }
  const still = (last.spec?.taints ?? []).some((t) => t.key === UNREGISTERED_TAINT) ? `the taint ${UNREGISTERED_TAINT} is still on it` : `its label ${REGISTERED_LABEL} is not "true"`;
  throw new NotRegistered(
    `not written: Karpenter had not registered Node ${name} when ${abortText(w.signal)} (${still}); ` +
      'True before that would let the startup taint be removed and then added back by Karpenter',
  );
}
