// Karpenter as far as a node's Node object sees it (sigs.k8s.io/karpenter 1.x with karpenter-provider-aws):
// - The kubelet registers the Node from the user data Karpenter generates (provider pkg/providers/amifamily):
//   nodeadm's kubelet.config.registerWithTaints is the NodeClaim's taints and startupTaints plus
//   karpenter.sh/unregistered:NoExecute (resolver.go), --node-labels its labels (bootstrap.go nodeLabelArg), with
//   karpenter.sh/do-not-sync-taints=true for every amiFamily but Custom since provider v1.5.0
//   (launchtemplate.go InjectDoNotSyncTaintsLabel). With amiFamily Custom the user data is the user's own.
// - The registration (core pkg/controllers/nodeclaim/lifecycle/registration.go Reconcile and syncNode) patches the
//   Node once it exists: finalizer karpenter.sh/termination, an owner reference to the NodeClaim, the NodeClaim's
//   annotations and labels, its taints then startupTaints merged in by key and effect (scheduling.Taints.Merge)
//   unless the Node is labelled karpenter.sh/do-not-sync-taints=true, karpenter.sh/unregistered removed and
//   karpenter.sh/registered=true; one JSON merge patch with the read resourceVersion (MergeFromWithOptimisticLock).
//   Since core v1.3.0 a Node without the karpenter.sh/unregistered taint is still registered (an error event);
//   in v1.0-v1.2 it was refused.
import type { User } from './kube-admission.js';
import type { AddNodeOptions } from './kube-nodes.js';
import type { NodeStore } from './kube-node-store.js';

type Obj = Record<string, any>;
export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface NodeClaim {
  name: string;
  nodePool: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: Taint[];
  startupTaints?: Taint[];
}

export const UNREGISTERED: Taint = { key: 'karpenter.sh/unregistered', effect: 'NoExecute' };
const KARPENTER: User = { name: 'system:serviceaccount:kube-system:karpenter', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] };

const claimLabels = (c: NodeClaim) => ({ 'karpenter.sh/nodepool': c.nodePool, 'karpenter.sh/capacity-type': 'on-demand', ...c.labels });
const same = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;

/**
 * The Node as the kubelet registers it from Karpenter's user data. `userData` changes what a user's own user data
 * changes: `doNotSyncTaints` (provider >= 1.5, not Custom), the taints registered (Custom, or a
 * --register-with-taints flag in the EC2NodeClass, which replaces Karpenter's).
 */
export function karpenterKubelet(c: NodeClaim, userData: { doNotSyncTaints?: boolean; registerWithTaints?: Taint[] } = {}): AddNodeOptions {
  const labels: Record<string, string> = { ...claimLabels(c), ...(userData.doNotSyncTaints ? { 'karpenter.sh/do-not-sync-taints': 'true' } : {}) };
  const taints = userData.registerWithTaints ?? [...(c.taints ?? []), ...(c.startupTaints ?? []), UNREGISTERED];
  return { labels, taints: taints.map((t) => ({ ...t })) };
}

/** registration.go: the one patch that registers the Node, written as Karpenter's service account writes it. */
export function karpenterRegister(nodes: NodeStore, name: string, c: NodeClaim): Obj {
  const node = nodes.get(name);
  const meta = node.metadata;
  let taints: Taint[] = [...(node.spec?.taints ?? [])];
  if (meta.labels?.['karpenter.sh/do-not-sync-taints'] !== 'true') {
    for (const t of [...(c.taints ?? []), ...(c.startupTaints ?? [])]) if (!taints.some((x) => same(x, t))) taints.push({ ...t });
  }
  taints = taints.filter((t) => !same(t, UNREGISTERED));
  const owner = { apiVersion: 'karpenter.sh/v1', kind: 'NodeClaim', name: c.name, uid: `nodeclaim-${c.name}`, blockOwnerDeletion: true };
  const patch = {
    metadata: {
      resourceVersion: meta.resourceVersion,
      finalizers: [...new Set([...(meta.finalizers ?? []), 'karpenter.sh/termination'])],
      ownerReferences: [...(meta.ownerReferences ?? []).filter((o: Obj) => o.uid !== owner.uid), owner],
      annotations: { ...c.annotations },
      labels: { ...claimLabels(c), 'karpenter.sh/registered': 'true' },
    },
    // A JSON merge patch replaces the list: the whole new one.
    spec: { taints: taints.length ? taints : null },
  };
  return nodes.write(KARPENTER, name, undefined, { kind: 'merge', body: patch }, 'karpenter');
}
