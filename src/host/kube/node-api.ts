import { KubeApiError, type KubeClient } from './api-client.js';

/**
 * What postjoin writes to its own Node, and only that, all with the node's own identity (NodeRestriction lets
 * a node patch its Node's status and its own non-kubernetes.io labels, and create events; never taints).
 */
export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  lastHeartbeatTime: string;
}

export interface NodeObject {
  metadata: { name: string; uid: string; labels?: Record<string, string>; resourceVersion?: string };
  status?: { conditions?: Partial<NodeCondition>[] };
}

export interface CallOptions {
  signal: AbortSignal;
  timeoutMs: number;
}

/** A strategic merge patch merges `status.conditions` by `type` (patchMergeKey), so the kubelet's stay. */
const STRATEGIC = 'application/strategic-merge-patch+json';
/** The one name for postjoin as an event source: `kubectl describe node` shows it under From. */
export const REPORTING_CONTROLLER = 'postjoin.io/postjoin';

const nodePath = (name: string) => `/api/v1/nodes/${encodeURIComponent(name)}`;

/** The Node; a 404 is retryable: the kubelet may not have registered it yet. */
export async function getNode(client: KubeClient, name: string, o: CallOptions): Promise<NodeObject> {
  try {
    return await client.request<NodeObject>({ method: 'GET', path: nodePath(name), ...o });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) {
      throw new KubeApiError(`Node "${name}" not found (not registered yet, or kubernetes.nodeName is not this node's name)`, true, 404, undefined, 'NotFound');
    }
    throw err;
  }
}

/**
 * Writes one condition on nodes/{name}/status with a strategic merge patch. Never a JSON merge patch: that
 * replaces the whole list and wipes the kubelet's Ready condition.
 */
export async function patchNodeStatusCondition(client: KubeClient, name: string, condition: NodeCondition, o: CallOptions): Promise<NodeObject> {
  return client.request<NodeObject>({
    method: 'PATCH',
    path: `${nodePath(name)}/status`,
    contentType: STRATEGIC,
    body: { status: { conditions: [condition] } },
    ...o,
  });
}

/** Sets one label on the Node's main resource; the caller's config guarantees it is not a kubernetes.io one. */
export async function patchNodeLabel(client: KubeClient, name: string, key: string, value: string, o: CallOptions): Promise<NodeObject> {
  return client.request<NodeObject>({ method: 'PATCH', path: nodePath(name), contentType: STRATEGIC, body: { metadata: { labels: { [key]: value } } }, ...o });
}

export interface NodeEvent {
  node: { name: string; uid: string };
  type: 'Normal' | 'Warning';
  reason: string;
  action: string;
  note: string;
  time: Date;
}

/**
 * Posts an events.k8s.io/v1 event about the Node, in namespace `default` (where the kubelet's own node events
 * go). On a 404 for that API group, falls back to a core/v1 Event: every supported EKS version serves both,
 * but a fallback costs one request only where it is needed. Returns the API version used.
 */
export async function createEvent(client: KubeClient, ev: NodeEvent, o: CallOptions): Promise<'events.k8s.io/v1' | 'v1'> {
  try {
    await client.request({ method: 'POST', path: '/apis/events.k8s.io/v1/namespaces/default/events', body: eventsV1(ev), ...o });
    return 'events.k8s.io/v1';
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 404) throw err;
  }
  await client.request({ method: 'POST', path: '/api/v1/namespaces/default/events', body: coreV1Event(ev), ...o });
  return 'v1';
}

/**
 * A real API server refuses an events.k8s.io/v1 event without eventTime (a MicroTime, six fractional digits),
 * reportingController, reportingInstance, action or reason, and one with neither name nor generateName.
 */
export function eventsV1(ev: NodeEvent): Record<string, unknown> {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { generateName: generateName(ev.node.name), namespace: 'default' },
    eventTime: microTime(ev.time),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: ev.node.name,
    action: ev.action,
    reason: ev.reason,
    regarding: { kind: 'Node', name: ev.node.name, uid: ev.node.uid, apiVersion: 'v1' },
    note: ev.note,
    type: ev.type,
  };
}

export function coreV1Event(ev: NodeEvent): Record<string, unknown> {
  const at = `${ev.time.toISOString().slice(0, 19)}Z`;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { generateName: generateName(ev.node.name), namespace: 'default' },
    involvedObject: { kind: 'Node', name: ev.node.name, uid: ev.node.uid, apiVersion: 'v1' },
    reason: ev.reason,
    message: ev.note,
    type: ev.type,
    source: { component: REPORTING_CONTROLLER, host: ev.node.name },
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/** metav1.MicroTime's JSON form: RFC 3339 with exactly six fractional digits, in UTC. */
export function microTime(d: Date): string {
  return `${d.toISOString().slice(0, 23)}000Z`;
}

/** The server appends 5 random characters; a long node name is cut so the result stays a valid name. */
function generateName(node: string): string {
  return `${node.slice(0, 200).replace(/[.-]+$/, '')}.postjoin.`;
}
