// The three PATCH formats of the Kubernetes API as the real server applies them to a Node (and an Event):
// strategic merge (lists merge by their patchMergeKey, or are sets, or are atomic, per the Go struct tags of
// k8s.io/api core/v1), JSON merge patch (RFC 7386: every list is replaced) and JSON patch (RFC 6902).
// The difference matters: a merge patch of status.conditions wipes the kubelet's conditions, a strategic one does not.
import { ApiError } from './kube-status.js';

/** How a list field merges under a strategic merge patch; a field not listed is atomic (replaced whole). */
export type ListStrategy = { mergeKey: string } | 'set';

/** core/v1 Node (and ObjectMeta) struct tags: `patchStrategy:"merge"` with or without `patchMergeKey`. */
export const NODE_LISTS: Record<string, ListStrategy> = {
  'metadata.finalizers': 'set',
  'metadata.ownerReferences': { mergeKey: 'uid' },
  'spec.podCIDRs': 'set',
  // spec.taints has no patch strategy in core/v1 (atomic): a strategic merge patch replaces the whole list.
  'status.conditions': { mergeKey: 'type' },
  'status.addresses': { mergeKey: 'type' },
};

type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
export const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

const DELETE = Symbol('delete');
const SET_ORDER = '$setElementOrder/';
const DEL_PRIMITIVE = '$deleteFromPrimitiveList/';
const isDirective = (k: string) => k === '$patch' || k === '$retainKeys' || k.startsWith(SET_ORDER) || k.startsWith(DEL_PRIMITIVE);

function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.filter((x) => !(isObj(x) && x.$patch !== undefined && Object.keys(x).length === 1)).map(strip);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) if (!isDirective(k) && x !== null) out[k] = strip(x);
  return out;
}

const bad = (msg: string) => new ApiError(400, 'BadRequest', msg);

/** Applies a strategic merge patch; `lists` names the merging lists by dotted path (indices left out). */
export function strategicMerge(original: unknown, patch: unknown, lists: Record<string, ListStrategy> = NODE_LISTS): Obj {
  if (!isObj(patch)) throw bad('error decoding patch: a strategic merge patch must be a JSON object');
  const out = mergeMap(isObj(original) ? original : undefined, patch, '', lists);
  return out === DELETE ? {} : out;
}

function mergeMap(orig: Obj | undefined, patch: Obj, path: string, lists: Record<string, ListStrategy>): Obj | typeof DELETE {
  if (patch.$patch === 'delete') return DELETE;
  if (patch.$patch === 'replace') return strip(patch) as Obj;
  if (patch.$patch !== undefined) throw bad(`Unknown patch type: ${String(patch.$patch)} in map: ${JSON.stringify(patch)}`);
  const out: Obj = clone(orig) ?? {};
  if (patch.$retainKeys !== undefined) {
    if (!Array.isArray(patch.$retainKeys)) throw bad('invalid patch: $retainKeys must be a list of strings');
    const keep = new Set(patch.$retainKeys as string[]);
    const stray = Object.keys(patch).filter((k) => !isDirective(k) && patch[k] !== null && !keep.has(k));
    if (stray.length > 0) throw new ApiError(422, '', `patch content doesn't match retainKeys list: ${stray.join(', ')}`);
    for (const k of Object.keys(out)) if (!keep.has(k)) delete out[k];
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(DEL_PRIMITIVE)) continue;
    const field = k.slice(DEL_PRIMITIVE.length);
    if (!Array.isArray(v)) throw bad(`invalid patch: ${k} must be a list`);
    if (Array.isArray(out[field])) out[field] = (out[field] as unknown[]).filter((x) => !v.some((d) => deepEqual(d, x)));
  }
  for (const [k, v] of Object.entries(patch)) {
    if (isDirective(k)) continue;
    const sub = path ? `${path}.${k}` : k;
    if (v === null) delete out[k];
    else if (isObj(v)) {
      const merged = mergeMap(isObj(out[k]) ? (out[k] as Obj) : undefined, v, sub, lists);
      if (merged === DELETE) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) out[k] = mergeList(out[k], v, sub, lists);
    else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith(SET_ORDER)) continue;
    const field = k.slice(SET_ORDER.length);
    if (!Array.isArray(v)) throw bad(`invalid patch: ${k} must be a list`);
    if (Array.isArray(out[field])) out[field] = reorder(out[field] as unknown[], v, lists[path ? `${path}.${field}` : field]);
  }
  return out;
}

function mergeList(orig: unknown, patch: unknown[], path: string, lists: Record<string, ListStrategy>): unknown[] {
  const strategy = lists[path];
  const replace = patch.some((x) => isObj(x) && x.$patch === 'replace');
  if (strategy === undefined || replace) return strip(patch) as unknown[];
  const out = Array.isArray(orig) ? clone(orig) : [];
  if (strategy === 'set') {
    for (const x of patch) if (!out.some((y) => deepEqual(x, y))) out.push(x);
    return out;
  }
  const key = strategy.mergeKey;
  for (const item of patch) {
    if (!isObj(item)) throw bad(`invalid patch: ${path} holds maps merged by "${key}", got ${JSON.stringify(item)}`);
    if (item[key] === undefined) throw new ApiError(500, 'InternalError', `map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
    const at = out.findIndex((y) => isObj(y) && y[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) out.splice(at, 1);
      continue;
    }
    const merged = mergeMap(at >= 0 ? (out[at] as Obj) : undefined, item, path, lists);
    if (merged === DELETE) {
      if (at >= 0) out.splice(at, 1);
    } else if (at >= 0) out[at] = merged;
    else out.push(merged);
  }
  return out;
}

// $setElementOrder/<list>: the listed elements take that order; elements the patch did not name keep theirs, after.
function reorder(list: unknown[], order: unknown[], strategy: ListStrategy | undefined): unknown[] {
  const keyOf = (x: unknown) => (strategy && strategy !== 'set' && isObj(x) ? x[strategy.mergeKey] : x);
  const wanted = order.map(keyOf);
  const rank = (x: unknown) => {
    const i = wanted.findIndex((w) => deepEqual(w, keyOf(x)));
    return i < 0 ? wanted.length : i;
  };
  return list.map((x, i) => ({ x, i, r: rank(x) })).sort((a, b) => a.r - b.r || a.i - b.i).map((e) => e.x);
}

/** RFC 7386 JSON merge patch: maps merge, null deletes, and anything else (lists included) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const unprocessable = (msg: string) => new ApiError(422, '', msg);

function pointer(path: unknown): string[] {
  if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) throw bad(`invalid JSON pointer: ${JSON.stringify(path)}`);
  return path === '' ? [] : path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, tokens: string[], op: string, path: string): { parent: Obj | unknown[]; last: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    const next = Array.isArray(cur) ? cur[Number(t)] : isObj(cur) ? cur[t] : undefined;
    if (next === undefined || next === null || typeof next !== 'object') {
      throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
    }
    cur = next;
  }
  return { parent: cur as Obj | unknown[], last: tokens[tokens.length - 1] ?? '' };
}

function arrayIndex(arr: unknown[], last: string, forAdd: boolean, op: string): number {
  if (forAdd && last === '-') return arr.length;
  const i = /^(0|[1-9]\d*)$/.test(last) ? Number(last) : NaN;
  if (!(i >= 0 && i <= arr.length - (forAdd ? 0 : 1))) throw unprocessable(`${op} operation does not apply: Unable to access invalid index: ${last}: invalid index referenced`);
  return i;
}

function getAt(doc: unknown, path: string, op: string): unknown {
  let cur = doc;
  for (const t of pointer(path)) {
    cur = Array.isArray(cur) ? cur[Number(t)] : isObj(cur) ? cur[t] : undefined;
    if (cur === undefined) throw unprocessable(`${op} operation does not apply: doc is missing path: "${path}": missing value`);
  }
  return cur;
}

function addAt(doc: unknown, path: string, value: unknown, op = 'add'): unknown {
  const tokens = pointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true, op), 0, clone(value));
  else parent[last] = clone(value);
  return doc;
}

function removeAt(doc: unknown, path: string, op = 'remove'): unknown {
  const tokens = pointer(path);
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, false, op), 1);
  else if (last in parent) delete parent[last];
  else throw unprocessable(`${op} operation does not apply: doc is missing key: ${path}: missing value`);
  return doc;
}

/** RFC 6902 JSON patch, applied in order; any failing operation fails the whole patch (422, as the server). */
export function jsonPatch(original: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw bad('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = clone(original);
  for (const raw of ops) {
    if (!isObj(raw) || typeof raw.op !== 'string') throw bad(`invalid JSON patch operation: ${JSON.stringify(raw)}`);
    const path = raw.path as string;
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, path, raw.value);
        break;
      case 'remove':
        doc = removeAt(doc, path);
        break;
      case 'replace':
        getAt(doc, path, 'replace');
        doc = addAt(removeAt(doc, path, 'replace'), path, raw.value, 'replace');
        break;
      case 'move': {
        const v = getAt(doc, raw.from as string, 'move');
        doc = addAt(removeAt(doc, raw.from as string, 'move'), path, v, 'move');
        break;
      }
      case 'copy':
        doc = addAt(doc, path, getAt(doc, raw.from as string, 'copy'), 'copy');
        break;
      case 'test':
        if (!deepEqual(getAt(doc, path, 'test'), raw.value)) throw unprocessable(`testing value ${path} failed: test failed`);
        break;
      default:
        throw bad(`Unexpected kind: ${raw.op}`);
    }
  }
  return doc;
}
