// Legacy (unaggregated) discovery documents: what kubectl reads to map `nodes`, `no`, `events`, `ev`, `pods` to
// URLs and verbs. Only the resources the stand-in serves are listed, so kubectl says "the server doesn't have a
// resource type" for anything else, as a real server with those APIs turned off would.
type Obj = Record<string, unknown>;

const ALL = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const resource = (name: string, kind: string, namespaced: boolean, verbs: string[], extra: Obj = {}) => ({ name, singularName: name.includes('/') ? '' : kind.toLowerCase(), namespaced, kind, verbs, ...extra });

export const VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-postjoin-standin',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const GROUPS: [group: string, resources: Obj[]][] = [
  ['events.k8s.io', [resource('events', 'Event', true, ALL, { shortNames: ['ev'] })]],
  ['coordination.k8s.io', [resource('leases', 'Lease', true, ALL)]],
  ['authentication.k8s.io', [resource('selfsubjectreviews', 'SelfSubjectReview', false, ['create'])]],
  ['authorization.k8s.io', [resource('selfsubjectaccessreviews', 'SelfSubjectAccessReview', false, ['create'])]],
];

const CORE = [
  resource('events', 'Event', true, ALL, { shortNames: ['ev'] }),
  resource('nodes', 'Node', false, ALL, { shortNames: ['no'] }),
  resource('nodes/status', 'Node', false, ['get', 'patch', 'update']),
  resource('pods', 'Pod', true, ALL, { shortNames: ['po'], categories: ['all'] }),
];

// OpenAPI v3, only as far as kubectl reads it: whether PATCH of a kind takes `fieldValidation` (then kubectl leaves
// validation to the server instead of downloading schemas). The documents hold no schemas: field validation is not
// modelled, and kubectl commands that need schemas (client-side apply, explain) fail here as against a server without them.
const patchOp = (kind: string, group = '') => ({
  patch: {
    'x-kubernetes-group-version-kind': { group, version: 'v1', kind },
    parameters: ['dryRun', 'fieldManager', 'fieldValidation', 'force'].map((name) => ({ name, in: 'query', schema: { type: name === 'force' ? 'boolean' : 'string' } })),
  },
});
const OPENAPI_V3: Record<string, Obj> = {
  'api/v1': { '/api/v1/nodes/{name}': patchOp('Node'), '/api/v1/namespaces/{namespace}/events/{name}': patchOp('Event') },
  'apis/events.k8s.io/v1': { '/apis/events.k8s.io/v1/namespaces/{namespace}/events/{name}': patchOp('Event', 'events.k8s.io') },
};

/** The discovery document for a path, or undefined when the path is not a discovery path. */
export function discovery(path: string, serverAddress: string): Obj | undefined {
  if (path === '/version') return VERSION;
  if (path === '/openapi/v3') {
    const paths = Object.fromEntries(Object.keys(OPENAPI_V3).map((gv) => [gv, { serverRelativeURL: `/openapi/v3/${gv}?hash=${gv.length}` }]));
    return { paths };
  }
  const spec = path.startsWith('/openapi/v3/') ? OPENAPI_V3[path.slice('/openapi/v3/'.length)] : undefined;
  if (spec) return { openapi: '3.0.0', info: { title: 'Kubernetes', version: VERSION.gitVersion }, paths: spec };
  if (path === '/api') return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  if (path === '/api/v1') return { kind: 'APIResourceList', groupVersion: 'v1', resources: CORE };
  if (path === '/apis') {
    const groups = GROUPS.map(([name]) => {
      const v = { groupVersion: `${name}/v1`, version: 'v1' };
      return { name, versions: [v], preferredVersion: v };
    });
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }
  for (const [name, resources] of GROUPS) {
    const v = { groupVersion: `${name}/v1`, version: 'v1' };
    if (path === `/apis/${name}`) return { kind: 'APIGroup', apiVersion: 'v1', name, versions: [v], preferredVersion: v };
    if (path === `/apis/${name}/v1`) return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${name}/v1`, resources };
  }
  return undefined;
}
