// Field ownership (metadata.managedFields) and server-side apply, a simple model of structured-merge-diff:
// every write records which manager set which fields; an apply merges by the same keys as a strategic merge patch,
// removes fields the manager applied before and no longer applies (unless someone else owns them), and fails with
// 409 when it would change a field another manager owns (unless force=true), worded as the real server words it.
import { clone, deepEqual, isObj, strategicMerge, type ListStrategy } from './kube-patch.js';
import { ApiError } from './kube-status.js';

type Obj = Record<string, any>;
/** A field path as structured-merge-diff writes it: ["f:status", "f:conditions", 'k:{"type":"Ready"}', "f:status"]. */
type Path = string[];

export interface ManagedEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Obj;
  subresource?: string;
}

const IGNORED = new Set(['metadata.managedFields', 'metadata.name', 'metadata.namespace', 'metadata.resourceVersion', 'metadata.uid', 'metadata.creationTimestamp', 'metadata.generation', 'apiVersion', 'kind']);

/** The leaf fields of an object, each with its value. */
function leaves(obj: unknown, lists: Record<string, ListStrategy>, path: Path = [], dotted = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!isObj(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    const d = dotted ? `${dotted}.${k}` : k;
    if (IGNORED.has(d)) continue;
    const p = [...path, `f:${k}`];
    const strategy = lists[d];
    if (isObj(v) && Object.keys(v).length > 0) for (const [lp, lv] of leaves(v, lists, p, d)) out.set(lp, lv);
    else if (Array.isArray(v) && strategy === 'set') for (const x of v) out.set(JSON.stringify([...p, `v:${JSON.stringify(x)}`]), x);
    else if (Array.isArray(v) && typeof strategy === 'object') {
      const key = strategy.mergeKey;
      for (const item of v) {
        if (!isObj(item)) continue;
        const ep = [...p, `k:${JSON.stringify({ [key]: item[key] })}`];
        out.set(JSON.stringify([...ep, '.']), item[key]);
        for (const [lp, lv] of leaves(item, lists, ep, d)) out.set(lp, lv);
      }
    } else out.set(JSON.stringify(p), v);
  }
  return out;
}

function fieldsV1(paths: Iterable<string>): Obj {
  const root: Obj = {};
  for (const s of paths) {
    let cur = root;
    for (const seg of JSON.parse(s) as Path) cur = cur[seg] ??= {};
  }
  return root;
}

function pathsOf(fields: Obj, prefix: Path = []): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    const p = [...prefix, k];
    if (isObj(v) && Object.keys(v).length > 0) out.push(...pathsOf(v, p));
    else out.push(JSON.stringify(p));
  }
  return out;
}

/** ".status.conditions[type="Ready"].status", as the conflict message prints a path. */
function render(path: string): string {
  return (JSON.parse(path) as Path)
    .filter((s) => s !== '.')
    .map((s) => {
      if (s.startsWith('f:')) return `.${s.slice(2)}`;
      if (s.startsWith('v:')) return `[=${s.slice(2)}]`;
      const kv = JSON.parse(s.slice(2)) as Obj;
      return `[${Object.entries(kv).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}]`;
    })
    .join('');
}

// Removes one leaf from the object (for an apply that no longer sets a field it used to own).
function removePath(obj: Obj, path: Path): void {
  let cur: any = obj;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]!;
    const last = i === path.length - 1 || path[i + 1] === '.';
    if (seg.startsWith('f:')) {
      if (!isObj(cur)) return;
      if (last) return void delete cur[seg.slice(2)];
      cur = cur[seg.slice(2)];
    } else if (Array.isArray(cur)) {
      const want = seg.startsWith('v:') ? JSON.parse(seg.slice(2)) : undefined;
      const kv = seg.startsWith('k:') ? (JSON.parse(seg.slice(2)) as Obj) : {};
      const at = cur.findIndex((x: any) => (seg.startsWith('v:') ? deepEqual(x, want) : Object.entries(kv).every(([k, v]) => isObj(x) && x[k] === v)));
      if (at < 0) return;
      if (last) return void cur.splice(at, 1);
      cur = cur[at];
    } else return;
  }
}

const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const entryKey = (e: Pick<ManagedEntry, 'manager' | 'operation' | 'subresource'>) => `${e.manager}\u0000${e.operation}\u0000${e.subresource ?? ''}`;

/** Records an Update by `manager`: the fields it changed become its own and stop being anyone else's. */
export function recordUpdate(oldObj: Obj, newObj: Obj, manager: string, lists: Record<string, ListStrategy>, subresource?: string): void {
  const before = leaves(oldObj, lists);
  const after = leaves(newObj, lists);
  const changed = [...after].filter(([p, v]) => !before.has(p) || !deepEqual(before.get(p), v)).map(([p]) => p);
  const removed = [...before.keys()].filter((p) => !after.has(p));
  const entries: ManagedEntry[] = clone(oldObj.metadata?.managedFields ?? []);
  const touched = new Set([...changed, ...removed]);
  const kept = entries.map((e) => ({ ...e, paths: pathsOf(e.fieldsV1).filter((p) => !touched.has(p) && after.has(p)) }));
  const key = entryKey({ manager, operation: 'Update', subresource });
  let mine = kept.find((e) => entryKey(e) === key);
  if (!mine && changed.length > 0) {
    mine = { manager, operation: 'Update', apiVersion: 'v1', time: now(), fieldsType: 'FieldsV1', fieldsV1: {}, ...(subresource ? { subresource } : {}), paths: [] };
    kept.push(mine);
  }
  if (mine && changed.length > 0) {
    mine.paths = [...new Set([...mine.paths, ...changed])];
    mine.time = now();
  }
  newObj.metadata.managedFields = kept.filter((e) => e.paths.length > 0).map(({ paths, ...e }) => ({ ...e, fieldsV1: fieldsV1(paths) }));
}

/**
 * Server-side apply of `applied` by `manager` onto `live`: returns the new object (managedFields set).
 * Throws 409 Conflict naming the other manager and the fields, as `kubectl apply --server-side` shows it.
 */
export function serverSideApply(live: Obj, applied: Obj, manager: string, force: boolean, lists: Record<string, ListStrategy>, subresource?: string): Obj {
  const entries: ManagedEntry[] = clone(live.metadata?.managedFields ?? []);
  const liveLeaves = leaves(live, lists);
  const want = leaves(applied, lists);
  const key = entryKey({ manager, operation: 'Apply', subresource });
  const conflicts = new Map<string, string[]>();
  for (const e of entries) {
    if (entryKey(e) === key) continue;
    for (const p of pathsOf(e.fieldsV1)) {
      if (want.has(p) && liveLeaves.has(p) && !deepEqual(want.get(p), liveLeaves.get(p))) conflicts.set(e.manager, [...(conflicts.get(e.manager) ?? []), p]);
    }
  }
  if (conflicts.size > 0 && !force) {
    const all = [...conflicts].flatMap(([m, ps]) => ps.map((p) => ({ m, p })));
    const lines = [...conflicts].map(([m, ps]) => (ps.length === 1 && all.length === 1 ? `conflict with "${m}" using v1: ${render(ps[0]!)}` : `conflicts with "${m}" using v1:\n${ps.map((p) => `- ${render(p)}`).join('\n')}`));
    const causes = all.map(({ m, p }) => ({ reason: 'FieldManagerConflict', message: `conflict with "${m}" using v1`, field: render(p) }));
    throw new ApiError(409, 'Conflict', `Apply failed with ${all.length} conflict${all.length === 1 ? '' : 's'}: ${lines.join('\n')}`, { causes });
  }
  const previous = entries.find((e) => entryKey(e) === key);
  const ownedByOthers = new Set(entries.filter((e) => entryKey(e) !== key).flatMap((e) => pathsOf(e.fieldsV1)));
  const result = strategicMerge(live, applied, lists);
  for (const p of previous ? pathsOf(previous.fieldsV1) : []) {
    if (!want.has(p) && !ownedByOthers.has(p)) removePath(result, JSON.parse(p) as Path);
  }
  const wanted = new Set(want.keys());
  const others = entries
    .filter((e) => entryKey(e) !== key)
    .map((e) => ({ ...e, fieldsV1: fieldsV1(pathsOf(e.fieldsV1).filter((p) => !(force && wanted.has(p)))) }))
    .filter((e) => Object.keys(e.fieldsV1).length > 0);
  const mine: ManagedEntry = { manager, operation: 'Apply', apiVersion: 'v1', time: now(), fieldsType: 'FieldsV1', fieldsV1: fieldsV1(wanted), ...(subresource ? { subresource } : {}) };
  result.metadata = { ...(result.metadata ?? {}), managedFields: [...others, mine] };
  return result;
}
