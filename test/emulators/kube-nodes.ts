// Node objects as a kubelet on an EKS AL2023 node registers them, the kubelet's status heartbeat patch, label and
// field selectors, and the server-side table (`kubectl get nodes` columns) as the real server prints them.
import { createHash, randomUUID } from 'node:crypto';
import { badRequest } from './kube-status.js';

type Obj = Record<string, any>;
const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export const KUBELET_CONDITIONS: [type: string, status: string, reason: string, message: string][] = [
  ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
  ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
  ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
  ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
];

function condition([type, status, reason, message]: (typeof KUBELET_CONDITIONS)[number], at: string): Obj {
  return { type, status, lastHeartbeatTime: at, lastTransitionTime: at, reason, message };
}

export interface AddNodeOptions {
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
}

/** A registered Node as the kubelet leaves it: labels, provider ID, addresses, capacity, nodeInfo, four conditions. */
export function makeNode(name: string, opts: AddNodeOptions, resourceVersion: string): Obj {
  const at = now();
  const n = parseInt(createHash('sha256').update(name).digest('hex').slice(0, 4), 16);
  const ip = `10.0.${(n >> 8) & 255}.${n & 255 || 1}`;
  const instanceId = `i-0${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
  return {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: {
      name,
      uid: randomUUID(),
      resourceVersion,
      creationTimestamp: at,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/instance-type': 'm5.large',
        'beta.kubernetes.io/os': 'linux',
        'failure-domain.beta.kubernetes.io/region': 'us-west-2',
        'failure-domain.beta.kubernetes.io/zone': 'us-west-2a',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'm5.large',
        'topology.kubernetes.io/region': 'us-west-2',
        'topology.kubernetes.io/zone': 'us-west-2a',
        ...opts.labels,
      },
      annotations: { 'alpha.kubernetes.io/provided-node-ip': ip, 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { providerID: `aws:///us-west-2a/${instanceId}`, ...(opts.taints?.length ? { taints: opts.taints.map((t) => ({ ...t })) } : {}) },
    status: {
      capacity: { cpu: '2', 'ephemeral-storage': '20893676Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '7919088Ki', pods: '29' },
      allocatable: { cpu: '1930m', 'ephemeral-storage': '18181869946', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '7229936Ki', pods: '29' },
      conditions: KUBELET_CONDITIONS.map((c) => condition(c, at)),
      addresses: [
        { type: 'InternalIP', address: ip },
        { type: 'InternalDNS', address: `ip-${ip.replace(/\./g, '-')}.us-west-2.compute.internal` },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: createHash('md5').update(`machine-${name}`).digest('hex'),
        systemUUID: `ec2${createHash('md5').update(`uuid-${name}`).digest('hex').slice(3, 8)}-0000-0000-0000-000000000000`,
        bootID: randomUUID(),
        kernelVersion: '6.1.119-129.201.amzn2023.x86_64',
        osImage: 'Amazon Linux 2023.6.20241212',
        containerRuntimeVersion: 'containerd://1.7.23',
        kubeletVersion: 'v1.32.0-eks-aeac579',
        kubeProxyVersion: 'v1.32.0-eks-aeac579',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

/**
 * The patch a kubelet sends for its status heartbeat (kubelet_node_status.go, via CreateTwoWayMergePatch of the Node it
 * read and the one it wants): its four conditions with a new lastHeartbeatTime (re-added whole if someone removed
 * them), and `$setElementOrder/conditions` listing every condition of the Node it read, other writers' included.
 */
export function kubeletHeartbeatPatch(node: Obj): Obj {
  const at = now();
  const current: Obj[] = node.status?.conditions ?? [];
  const conditions = KUBELET_CONDITIONS.map((c) => {
    const have = current.find((x) => x.type === c[0]);
    return have ? { type: c[0], lastHeartbeatTime: at } : condition(c, at);
  });
  const order = [...current.map((c) => c.type as string), ...KUBELET_CONDITIONS.map((c) => c[0]).filter((t) => !current.some((c) => c.type === t))];
  return { status: { '$setElementOrder/conditions': order.map((type) => ({ type })), conditions } };
}

/** A label selector (labels.Parse): `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, comma-separated. */
export function labelSelector(selector: string): (labels: Record<string, string> | undefined) => boolean {
  const parts = selector.split(/,(?![^()]*\))/).map((s) => s.trim()).filter(Boolean);
  const tests = parts.map((p) => {
    let m: RegExpMatchArray | null;
    if ((m = p.match(/^!\s*([^\s=!(),]+)$/))) return (l: Record<string, string>) => !(m![1]! in l);
    if ((m = p.match(/^([^\s=!(),]+)\s*(==|=|!=)\s*([^\s=!(),]*)$/))) {
      const [, k, op, v] = m as unknown as [string, string, string, string];
      return (l: Record<string, string>) => (op === '!=' ? l[k] !== v : l[k] === v);
    }
    if ((m = p.match(/^([^\s=!(),]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, k, op, list] = m as unknown as [string, string, string, string];
      const vals = list.split(',').map((s) => s.trim());
      return (l: Record<string, string>) => (op === 'in' ? k in l && vals.includes(l[k]!) : !(k in l) || !vals.includes(l[k]!));
    }
    if ((m = p.match(/^([^\s=!(),]+)$/))) return (l: Record<string, string>) => m![1]! in l;
    throw badRequest(`unable to parse requirement: found '${p}', expected: identifier`);
  });
  return (labels) => tests.every((t) => t(labels ?? {}));
}

/** A field selector's terms; a field outside `allowed` is the real server's 400 "field label not supported". */
export function fieldSelector(selector: string, allowed: string[]): [string, '=' | '!=', string][] {
  return selector
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((term) => {
      const m = term.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
      if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${term}'`);
      const [, field, op, value] = m as unknown as [string, string, string, string];
      if (!allowed.includes(field)) throw badRequest(`field label not supported: ${field}`);
      return [field, op === '!=' ? '!=' : '=', value];
    });
}

export const NODE_FIELDS = ['metadata.name', 'spec.unschedulable'];

/** apimachinery duration.HumanDuration, the AGE column. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  if (h < 24 * 8) return h % 24 === 0 ? `${Math.floor(h / 24)}d` : `${Math.floor(h / 24)}d${h % 24}h`;
  return `${Math.floor(h / 24)}d`;
}

const column = (name: string, type: string, description: string, priority = 0, format = '') => ({ name, type, format, description, priority });
const NODE_COLUMNS = [
  column('Name', 'string', 'Name must be unique within a namespace.', 0, 'name'),
  column('Status', 'string', 'The status of the node'),
  column('Roles', 'string', 'The roles of the node'),
  column('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
  column('Version', 'string', 'Kubelet Version reported by the node.'),
  column('Internal-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
  column('External-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
  column('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
  column('Kernel-Version', 'string', 'Kernel Version reported by the node.', 1),
  column('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1),
];

// pkg/printers/internalversion printNode: Ready/NotReady/Unknown, ",SchedulingDisabled" when cordoned.
function nodeRow(node: Obj): unknown[] {
  const ready = (node.status?.conditions ?? []).find((c: Obj) => c.type === 'Ready');
  const status = [ready ? (ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown') : 'Unknown'];
  if (node.spec?.unschedulable) status.push('SchedulingDisabled');
  const labels: Record<string, string> = node.metadata?.labels ?? {};
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length))
    .concat(labels['kubernetes.io/role'] ? [labels['kubernetes.io/role']] : [])
    .filter(Boolean)
    .sort();
  const address = (type: string) => (node.status?.addresses ?? []).find((a: Obj) => a.type === type)?.address ?? '<none>';
  const info = node.status?.nodeInfo ?? {};
  const age = humanDuration(Date.now() - Date.parse(node.metadata.creationTimestamp));
  return [node.metadata.name, status.join(','), roles.length ? roles.join(',') : '<none>', age, info.kubeletVersion ?? '',
    address('InternalIP'), address('ExternalIP'), info.osImage || '<unknown>', info.kernelVersion || '<unknown>', info.containerRuntimeVersion || '<unknown>'];
}

/** A meta.k8s.io/v1 Table of nodes; rows carry the object as PartialObjectMetadata (includeObject=Metadata, the default). */
export function nodeTable(nodes: Obj[], resourceVersion: string, includeObject: string | undefined): Obj {
  const object = (n: Obj) =>
    includeObject === 'None' ? undefined : includeObject === 'Object' ? n : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: n.metadata };
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: NODE_COLUMNS,
    rows: nodes.map((n) => ({ cells: nodeRow(n), object: object(n) })),
  };
}
