// Who may do what, as a kube-apiserver with `--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction`
// decides it for the identities the stand-in knows: system:masters may do anything; a node (user system:node:<name>,
// group system:nodes) has the Node authorizer's rules (plugin/pkg/auth/authorizer/rbac/bootstrappolicy NodeRules) and
// NodeRestriction's limits on its own Node object (plugin/pkg/admission/noderestriction/admission.go admitNode).
import { deepEqual } from './kube-patch.js';
import { forbidden } from './kube-status.js';

export interface User {
  name: string;
  groups: string[];
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface ResourceRequest {
  verb: Verb;
  group: string;
  /** "nodes", "nodes/status", "events", "pods", "leases". */
  resource: string;
  namespace?: string;
  name?: string;
}

/** The node name of a node identity (system:node:<name> in group system:nodes), undefined for anyone else. */
export function nodeNameOf(user: User): string | undefined {
  if (!user.groups.includes('system:nodes') || !user.name.startsWith('system:node:')) return undefined;
  return user.name.slice('system:node:'.length);
}

// NodeRules() of the bootstrap policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go), the part a node's
// reporting can reach: group, resource, verbs. The Node authorizer (plugin/pkg/auth/authorizer/node/node_authorizer.go)
// subdivides secrets, configmaps, PVs, leases and the like, never nodes or events: for those NodeRules() is the answer.
// Events only in the core group: NodeRules() has `create, update, patch` on "events" in legacyGroup "" and nothing
// in events.k8s.io (eventsRule(), which names both groups, is for the controllers' roles), so a node's
// POST /apis/events.k8s.io/v1/... is 403 on every real cluster (the same in bootstrappolicy/testdata/
// cluster-roles-featuregates.yaml's system:node role, a copy recent enough to list resourceslices and clustertrustbundles).
const NODE_RULES: [string, string, Verb[]][] = [
  ['', 'nodes', ['create', 'get', 'list', 'watch', 'update', 'patch']],
  ['', 'nodes/status', ['update', 'patch']],
  ['', 'events', ['create', 'update', 'patch']],
  ['', 'pods', ['get', 'list', 'watch', 'create', 'delete']],
  ['', 'services', ['get', 'list', 'watch']],
  ['coordination.k8s.io', 'leases', ['get', 'create', 'update', 'patch', 'delete']],
];

/**
 * The authorizer chain's answer (Node, then RBAC, which binds nothing to system:nodes): throws the 403 Status the real
 * server gives, worded as apiserver's endpoints/handlers/responsewriters Forbidden ("User … cannot … resource …").
 * NodeRestriction (plugin/pkg/admission/noderestriction/admission.go Admit) has no case for events: a node may
 * create any core/v1 event in any namespace, about any object; only validation narrows it.
 */
export function authorize(user: User, req: ResourceRequest): void {
  if (user.groups.includes('system:masters')) return;
  if (nodeNameOf(user) !== undefined && NODE_RULES.some(([g, r, verbs]) => g === req.group && r === req.resource && verbs.includes(req.verb))) return;
  const scope = req.namespace ? `in the namespace "${req.namespace}"` : 'at the cluster scope';
  throw forbidden(req.resource, req.group, req.name ?? '', `User "${user.name}" cannot ${req.verb} resource "${req.resource}" in API group "${req.group}" ${scope}`);
}

// kubelet's own labels (k8s.io/kubelet/pkg/apis/well_known_labels.go kubeletLabels / kubeletLabelNamespaces).
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'kubernetes.io/os',
  'kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/arch',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];
const within = (ns: string, domain: string) => ns === domain || ns.endsWith(`.${domain}`);
const labelNamespace = (key: string) => (key.includes('/') ? key.slice(0, key.indexOf('/')) : '');

export function isKubeletLabel(key: string): boolean {
  return KUBELET_LABELS.has(key) || KUBELET_LABEL_NAMESPACES.some((d) => within(labelNamespace(key), d));
}

/** getForbiddenLabels: node-restriction.kubernetes.io always; other kubernetes.io / k8s.io keys unless the kubelet's. */
export function forbiddenLabels(keys: Iterable<string>): string[] {
  const out = new Set<string>();
  for (const key of keys) {
    const ns = labelNamespace(key);
    if (within(ns, 'node-restriction.kubernetes.io')) out.add(key);
    if ((within(ns, 'kubernetes.io') || within(ns, 'k8s.io')) && !isKubeletLabel(key)) out.add(key);
  }
  return [...out].sort();
}

function modifiedLabels(a: Record<string, string> = {}, b: Record<string, string> = {}): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]);
}

// apiequality.Semantic.DeepEqual treats a nil and an empty list alike; so does this.
const taintsOf = (node: any): unknown[] => (Array.isArray(node?.spec?.taints) ? node.spec.taints : []);

/**
 * NodeRestriction for an update of a Node (main resource or status) by `user`; a no-op for a non-node user.
 * Throws the real plugin's 403 wording, e.g. `nodes "a" is forbidden: node "a" is not allowed to modify taints`.
 */
export function admitNodeUpdate(user: User, name: string, oldNode: any, newNode: any): void {
  const self = nodeNameOf(user);
  if (self === undefined) return;
  if (self === '') throw forbidden('nodes', '', name, `could not determine node from user "${user.name}"`);
  if (name !== self) throw forbidden('nodes', '', name, `node "${self}" is not allowed to modify node "${name}"`);
  if (newNode?.spec?.configSource != null && !deepEqual(newNode.spec.configSource, oldNode?.spec?.configSource)) {
    throw forbidden('nodes', '', name, `node "${self}" is not allowed to update configSource to a new non-nil configSource`);
  }
  if (!deepEqual(taintsOf(newNode), taintsOf(oldNode))) throw forbidden('nodes', '', name, `node "${self}" is not allowed to modify taints`);
  const bad = forbiddenLabels(modifiedLabels(newNode?.metadata?.labels, oldNode?.metadata?.labels));
  // The real message has no subject here ("is not allowed to modify labels: …"); kept as it is.
  if (bad.length > 0) throw forbidden('nodes', '', name, `is not allowed to modify labels: ${bad.join(', ')}`);
}

