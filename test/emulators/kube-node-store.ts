// The Node objects and the one write path every PATCH and PUT goes through, in the real server's order:
// the patch is applied to the stored object, NodeRestriction sees the result (before the subresource's reset, as
// the admission chain does), the status subresource keeps the old spec and the main resource the old status,
// validation, the resourceVersion precondition, field ownership; a write that changes nothing is not stored and
// keeps its resourceVersion (as etcd's GuaranteedUpdate skips it).
import { admitNodeUpdate, type User } from './kube-admission.js';
import { recordUpdate, serverSideApply } from './kube-apply.js';
import { makeNode, type AddNodeOptions } from './kube-nodes.js';
import { clone, deepEqual, isObj, jsonPatch, mergePatch, NODE_LISTS, strategicMerge } from './kube-patch.js';
import { ApiError, badRequest, conflict, invalid, labelErrors, notFound, type FieldError } from './kube-status.js';

type Obj = Record<string, any>;

export type NodeWrite =
  | { kind: 'put'; body: unknown }
  | { kind: 'strategic' | 'merge' | 'json'; body: unknown }
  | { kind: 'apply'; body: unknown; force: boolean };

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

function validateNode(node: Obj): FieldError[] {
  const errs = labelErrors(node.metadata?.labels);
  (Array.isArray(node.spec?.taints) ? node.spec.taints : []).forEach((t: Obj, i: number) => {
    if (!t?.key) errs.push({ type: 'Required', field: `spec.taints[${i}].key` });
    if (!EFFECTS.includes(t?.effect)) errs.push({ type: 'NotSupported', field: `spec.taints[${i}].effect`, value: t?.effect ?? '', supported: EFFECTS });
  });
  return errs;
}

// What makes a write a no-op: nothing but the resourceVersion and the managedFields' timestamps would change.
const withoutVolatile = (n: Obj) => {
  const c = clone(n);
  delete c.metadata.resourceVersion;
  for (const e of c.metadata.managedFields ?? []) delete e.time;
  return c;
};

export function createNodeStore(nextVersion: () => string) {
  const nodes = new Map<string, Obj>();

  function current(name: string): Obj {
    const n = nodes.get(name);
    if (!n) throw notFound('nodes', '', name);
    return n;
  }

  function candidateOf(old: Obj, w: NodeWrite, name: string, manager: string, subresource?: string): Obj {
    switch (w.kind) {
      case 'put': {
        if (!isObj(w.body)) throw badRequest('Object in version "v1" cannot be handled as a Node: the body is not a JSON object');
        if (w.body.kind !== undefined && w.body.kind !== 'Node') throw badRequest(`the kind in the data (${String(w.body.kind)}) does not match the expected kind (Node)`);
        const b = clone(w.body) as Obj;
        if (b.metadata?.name !== undefined && b.metadata.name !== name) throw badRequest(`the name of the object (${b.metadata.name}) does not match the name on the URL (${name})`);
        return b;
      }
      case 'strategic':
        return strategicMerge(old, w.body, NODE_LISTS);
      case 'merge':
        if (!isObj(w.body)) throw badRequest('error decoding patch: a JSON merge patch for an object must be a JSON object');
        return mergePatch(old, w.body) as Obj;
      case 'json': {
        const out = jsonPatch(old, w.body);
        if (!isObj(out)) throw new ApiError(422, '', 'the JSON patch result is not an object');
        return out;
      }
      case 'apply': {
        const b: Obj = isObj(w.body) ? w.body : {};
        if (b.apiVersion !== 'v1' || b.kind !== 'Node') throw badRequest(`invalid object type: ${b.apiVersion ?? ''}, Kind=${b.kind ?? ''}`);
        if (b.metadata?.name !== name) throw badRequest(`the name of the object (${b.metadata?.name ?? ''}) does not match the name on the URL (${name})`);
        if (b.metadata?.managedFields !== undefined) throw badRequest('metadata.managedFields must be nil');
        return serverSideApply(old, b, manager, w.force, NODE_LISTS, subresource);
      }
    }
  }

  return {
    has: (name: string) => nodes.has(name),
    add(name: string, opts: AddNodeOptions = {}): Obj {
      const node = makeNode(name, opts, nextVersion());
      // The kubelet owns what it registered (an Update) and its status (an Update of the status subresource).
      const { status: _status, ...registered } = node;
      registered.metadata.managedFields = [];
      recordUpdate({ metadata: {} }, registered, 'kubelet', NODE_LISTS);
      node.metadata = registered.metadata;
      recordUpdate(clone(registered), node, 'kubelet', NODE_LISTS, 'status');
      nodes.set(name, node);
      return clone(node);
    },
    get: (name: string) => clone(current(name)),
    peek: (name: string) => (nodes.has(name) ? clone(nodes.get(name)!) : undefined),
    all: () => [...nodes.values()].map(clone).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),

    /** PATCH or PUT of nodes/{name} or nodes/{name}/status by `user`; returns the stored (or unchanged) object. */
    write(user: User, name: string, subresource: 'status' | undefined, w: NodeWrite, manager: string): Obj {
      const old = current(name);
      const cand = candidateOf(clone(old), w, name, manager, subresource);
      cand.metadata ??= {};
      admitNodeUpdate(user, name, old, cand);
      const rv = cand.metadata.resourceVersion;
      if (rv !== undefined && rv !== '' && rv !== old.metadata.resourceVersion) {
        throw conflict('nodes', '', name, 'the object has been modified; please apply your changes to the latest version and try again');
      }
      if (cand.metadata.uid !== undefined && cand.metadata.uid !== old.metadata.uid) {
        throw conflict('nodes', '', name, `Precondition failed: UID in precondition: ${cand.metadata.uid}, UID in object meta: ${old.metadata.uid}`);
      }
      Object.assign(cand, { kind: 'Node', apiVersion: 'v1' });
      Object.assign(cand.metadata, { name, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp });
      if (subresource === 'status') cand.spec = clone(old.spec);
      else cand.status = clone(old.status);
      const errs = validateNode(cand);
      if (errs.length > 0) throw invalid('Node', '', name, errs);
      if (w.kind !== 'apply') {
        cand.metadata.managedFields = clone(old.metadata.managedFields);
        recordUpdate(old, cand, manager, NODE_LISTS, subresource);
      }
      if (deepEqual(withoutVolatile(cand), withoutVolatile(old))) return clone(old);
      cand.metadata.resourceVersion = nextVersion();
      nodes.set(name, cand);
      return clone(cand);
    },
  };
}

export type NodeStore = ReturnType<typeof createNodeStore>;
