// URL routing of the Kubernetes API stand-in: which resource a request names, the RBAC verb it needs, and the
// handler. Everything here runs after authentication; errors are thrown as ApiError and become Status objects.
import { authorize, type User, type Verb } from './kube-admission.js';
import { discovery } from './kube-discovery.js';
import { accessReviewSpec } from './kube-protobuf.js';
import { EVENT_FIELDS, eventTable, type EventApi, type createEventStore } from './kube-events.js';
import type { NodeStore, NodeWrite } from './kube-node-store.js';
import { fieldSelector, labelSelector, NODE_FIELDS, nodeTable } from './kube-nodes.js';
import { ApiError, badRequest, notFound } from './kube-status.js';

type Obj = Record<string, any>;

export interface RouteRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType: string;
  accept: string;
  userAgent: string;
  body: unknown;
  user: User;
}

export interface RouteState {
  nodes: NodeStore;
  events: ReturnType<typeof createEventStore>;
  resourceVersion: () => string;
  serverAddress: string;
  /** Last kubelet heartbeat per node as a MicroTime (the Lease's renewTime). */
  heartbeats: Map<string, string>;
}

export interface RouteAnswer {
  status: number;
  body: unknown;
}

const PATCH_TYPES: Record<string, NodeWrite['kind']> = {
  'application/strategic-merge-patch+json': 'strategic',
  'application/merge-patch+json': 'merge',
  'application/json-patch+json': 'json',
  'application/apply-patch+yaml': 'apply',
};

const methodNotAllowed = () => new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
const notFoundPath = () => new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});

function verbOf(method: string, named: boolean, query: Record<string, string>): Verb {
  if (method === 'GET') return named ? 'get' : query.watch === 'true' || query.watch === '1' ? 'watch' : 'list';
  return ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, Verb>)[method] ?? 'get';
}

const wantsTable = (accept: string) => /as=Table/.test(accept);

// The field manager of a non-apply write: the fieldManager parameter, else the User-Agent's first word (as the server).
const managerOf = (r: RouteRequest) => r.query.fieldManager || r.userAgent.split('/')[0] || 'unknown';

export function route(r: RouteRequest, s: RouteState): RouteAnswer {
  const doc = r.method === 'GET' ? discovery(r.path, s.serverAddress) : undefined;
  if (doc) return { status: 200, body: doc };
  if (r.query.watch === 'true' || r.query.watch === '1') throw badRequest('watch is not supported by the postjoin Kubernetes API stand-in');

  let m = r.path.match(/^\/api\/v1\/nodes(?:\/([^/]+)(?:\/(status))?)?$/);
  if (m) return nodes(r, s, m[1] && decodeURIComponent(m[1]), m[2] as 'status' | undefined);

  m = r.path.match(/^\/(?:api\/v1|apis\/(events\.k8s\.io)\/v1)(?:\/namespaces\/([^/]+))?\/events(?:\/([^/]+))?$/);
  if (m) return events(r, s, m[1] ? 'events' : 'core', m[2] && decodeURIComponent(m[2]), m[3] && decodeURIComponent(m[3]));

  m = r.path.match(/^\/api\/v1(?:\/namespaces\/([^/]+))?\/pods$/);
  if (m) {
    authorize(r.user, { verb: verbOf(r.method, false, r.query), group: '', resource: 'pods', namespace: m[1] });
    if (r.method !== 'GET') throw methodNotAllowed();
    return { status: 200, body: { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: s.resourceVersion() }, items: [] } };
  }

  if (r.method === 'POST' && r.path === '/apis/authentication.k8s.io/v1/selfsubjectreviews') return whoami(r);
  if (r.method === 'POST' && r.path === '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews') return canI(r);

  m = r.path.match(/^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases\/([^/]+)$/);
  if (m && r.method === 'GET') return lease(r, s, decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
  throw notFoundPath();
}

function nodes(r: RouteRequest, s: RouteState, name: string | undefined, subresource: 'status' | undefined): RouteAnswer {
  const verb = verbOf(r.method, name !== undefined, r.query);
  authorize(r.user, { verb, group: '', resource: subresource ? 'nodes/status' : 'nodes', name });
  if (name === undefined) {
    if (r.method !== 'GET') throw methodNotAllowed();
    const byLabel = labelSelector(r.query.labelSelector ?? '');
    const byField = fieldSelector(r.query.fieldSelector ?? '', NODE_FIELDS);
    const items = s.nodes
      .all()
      .filter((n) => byLabel(n.metadata.labels))
      .filter((n) => byField.every(([f, op, v]) => ((f === 'metadata.name' ? n.metadata.name : String(!!n.spec?.unschedulable)) === v) === (op === '=')));
    const rv = s.resourceVersion();
    if (wantsTable(r.accept)) return { status: 200, body: nodeTable(items, rv, r.query.includeObject) };
    return { status: 200, body: { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: rv }, items } };
  }
  if (r.method === 'GET') {
    const node = s.nodes.get(name);
    return { status: 200, body: wantsTable(r.accept) ? nodeTable([node], node.metadata.resourceVersion, r.query.includeObject) : node };
  }
  if (r.method !== 'PATCH' && r.method !== 'PUT') throw methodNotAllowed();
  let write: NodeWrite;
  if (r.method === 'PUT') write = { kind: 'put', body: r.body };
  else {
    const kind = PATCH_TYPES[r.contentType];
    if (!kind) {
      throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${Object.keys(PATCH_TYPES).join(', ')}`);
    }
    if (kind === 'apply' && !r.query.fieldManager) {
      throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', {
        group: 'meta.k8s.io',
        kind: 'PatchOptions',
        causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }],
      });
    }
    if (kind !== 'apply' && r.query.force !== undefined) {
      throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch', {
        group: 'meta.k8s.io',
        kind: 'PatchOptions',
        causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: may not be specified for non-apply patch', field: 'force' }],
      });
    }
    write = kind === 'apply' ? { kind, body: r.body, force: r.query.force === 'true' } : { kind, body: r.body };
  }
  return { status: 200, body: s.nodes.write(r.user, name, subresource, write, managerOf(r)) };
}

function events(r: RouteRequest, s: RouteState, api: EventApi, namespace: string | undefined, name: string | undefined): RouteAnswer {
  const group = api === 'core' ? '' : 'events.k8s.io';
  authorize(r.user, { verb: verbOf(r.method, name !== undefined, r.query), group, resource: 'events', namespace, name });
  if (r.method === 'POST' && namespace !== undefined && name === undefined) return { status: 201, body: s.events.create(api, namespace, r.body) };
  if (r.method !== 'GET') throw methodNotAllowed();
  if (name !== undefined) {
    if (namespace === undefined) throw notFoundPath();
    const e = s.events.get(api, namespace, name);
    return { status: 200, body: wantsTable(r.accept) ? eventTable([s.events.get('core', namespace, name)], e.metadata.resourceVersion, r.query.includeObject) : e };
  }
  const fields = fieldSelector(r.query.fieldSelector ?? '', EVENT_FIELDS);
  const rv = s.resourceVersion();
  if (wantsTable(r.accept)) return { status: 200, body: eventTable(s.events.listStored(namespace, fields), rv, r.query.includeObject) };
  const items = s.events.list(api, namespace, fields);
  return { status: 200, body: { kind: 'EventList', apiVersion: api === 'core' ? 'v1' : 'events.k8s.io/v1', metadata: { resourceVersion: rv }, items } };
}

// The node's Lease in kube-node-lease, renewed by each kubelet heartbeat (kubectl describe node shows it).
function lease(r: RouteRequest, s: RouteState, namespace: string, name: string): RouteAnswer {
  authorize(r.user, { verb: 'get', group: 'coordination.k8s.io', resource: 'leases', namespace, name });
  const node: Obj | undefined = namespace === 'kube-node-lease' ? s.nodes.peek(name) : undefined;
  if (!node) throw notFound('leases', 'coordination.k8s.io', name);
  const renew = s.heartbeats.get(name) ?? node.metadata.creationTimestamp.replace(/Z$/, '.000000Z');
  return {
    status: 200,
    body: {
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
      metadata: { name, namespace, uid: node.metadata.uid, resourceVersion: node.metadata.resourceVersion, creationTimestamp: node.metadata.creationTimestamp },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: renew },
    },
  };
}

// `kubectl auth whoami`: every authenticated user may ask who it is (system:basic-user).
function whoami(r: RouteRequest): RouteAnswer {
  const userInfo = { username: r.user.name, groups: r.user.groups };
  const metadata = { creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  return { status: 201, body: { kind: 'SelfSubjectReview', apiVersion: 'authentication.k8s.io/v1', metadata, status: { userInfo } } };
}

// `kubectl auth can-i`: the authorizer's answer for the asking user. Admission (NodeRestriction) is not part of it,
// as on a real server: a node "can" patch any node, and is then refused by admission for any but its own.
function canI(r: RouteRequest): RouteAnswer {
  const spec = Buffer.isBuffer(r.body) ? accessReviewSpec(r.body) : ((r.body as Obj | undefined)?.spec ?? {});
  const ra: Obj | undefined = spec.resourceAttributes;
  let allowed = !ra; // non-resource URLs (discovery) are open to every authenticated user here
  if (ra) {
    try {
      const resource = ra.subresource ? `${ra.resource}/${ra.subresource}` : String(ra.resource ?? '');
      authorize(r.user, { verb: ra.verb, group: ra.group ?? '', resource, namespace: ra.namespace || undefined, name: ra.name || undefined });
      allowed = true;
    } catch {
      allowed = false;
    }
  }
  return { status: 201, body: { kind: 'SelfSubjectAccessReview', apiVersion: 'authorization.k8s.io/v1', metadata: {}, spec, status: { allowed } } };
}
