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

export interface NodeTaint {
  key: string;
  value?: string;
  effect: string;
}

export interface NodeObject {
  metadata: { name: string; uid: string; labels?: Record<string, string>; resourceVersion?: string };
  spec?: { taints?: NodeTaint[] };
  status?: { conditions?: Partial<NodeCondition>[] };
}

export interface CallOptions {
  signal: AbortSignal;
  timeoutMs: number;
}

/** A strategic merge patch merges `status.conditions` by `type` (patchMergeKey), so the kubelet's stay. */
const STRATEGIC = 'application/strategic-merge-patch+json';
/** The one name for postjoin as an event source (source.component): `kubectl describe node` shows it under From. */
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
  node: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  time: Date;
}

/** ValidateEventCreate's bound on reportingInstance (it applies only to events with eventTime; kept anyway). */
const MAX_REPORTING_INSTANCE = 128;

/**
 * Posts a core/v1 Event about the Node in namespace `default`, as the kubelet and node-problem-detector do through
 * client-go's record.EventRecorder: the only events a node may create (NodeRules() grants events in the core group,
 * never events.k8s.io). The name is the client's, so a retry of a POST that did land is a 409 AlreadyExists, which
 * means the event is there: it is not posted twice.
 */
export async function createEvent(client: KubeClient, ev: NodeEvent, name: string, o: CallOptions): Promise<void> {
  try {
    await client.request({ method: 'POST', path: '/api/v1/namespaces/default/events', body: coreV1Event(ev, name), ...o });
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 409 && err.reason === 'AlreadyExists') return;
    throw err;
  }
}

/**
 * The Event as record.EventRecorder makes it (tools/record/event.go makeEvent, generateEvent): involvedObject is
 * the kubelet's node reference (kind Node, the name, and the name as UID, which `kubectl describe node` also
 * searches by), source and reportingComponent/reportingInstance from the same EventSource, count 1, first and
 * last timestamp in whole seconds, no eventTime and no action (with eventTime the server would hold it to the
 * events.k8s.io rules).
 */
export function coreV1Event(ev: NodeEvent, name: string): Record<string, unknown> {
  const at = `${ev.time.toISOString().slice(0, 19)}Z`;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: 'default' },
    involvedObject: { kind: 'Node', name: ev.node, uid: ev.node },
    reason: ev.reason,
    message: ev.message,
    type: ev.type,
    source: { component: REPORTING_CONTROLLER, host: ev.node },
    reportingComponent: REPORTING_CONTROLLER,
    reportingInstance: ev.node.slice(0, MAX_REPORTING_INSTANCE),
    firstTimestamp: at,
    lastTimestamp: at,
    count: 1,
  };
}

/**
 * record.EventRecorder's name: `<object name>.<the time in nanoseconds, hex>`. Node.js has milliseconds; the
 * monotonic clock's nanoseconds fill in below them, so two events in one millisecond get two names.
 */
export function eventName(node: string, time: Date, hrtime: bigint = process.hrtime.bigint()): string {
  return `${node}.${(BigInt(time.getTime()) * 1_000_000n + (hrtime % 1_000_000n)).toString(16)}`;
}
