// Events as the real server keeps them: one store, two API shapes. core/v1 (involvedObject, source, count,
// firstTimestamp, lastTimestamp) and events.k8s.io/v1 (regarding, reportingController, note, deprecated*) are
// conversions of the same stored object, so an event posted through one API is listed through the other.
// Decoding and validation follow pkg/apis/core/validation/events.go and metav1.MicroTime (exactly six fractional digits).
import { randomBytes, randomUUID } from 'node:crypto';
import { humanDuration } from './kube-nodes.js';
import { clone, isObj } from './kube-patch.js';
import {
  alreadyExists,
  badRequest,
  generatedName,
  invalid,
  nameIsDnsSubdomain,
  nameIsPathSegment,
  notFound,
  objectMetaErrors,
  qualifiedNameErrors,
  subdomainErrors,
  type FieldError,
} from './kube-status.js';

export type EventApi = 'core' | 'events';
type Obj = Record<string, any>;

// events.k8s.io/v1 field  <->  stored (core) field
const RENAMES: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];

const MICRO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

// The decoder's error for a time it cannot parse: 400 "Event in version "v1" cannot be handled as a Event: parsing time …".
function checkTime(v: unknown, micro: boolean, version: string): void {
  if (v === undefined || v === null) return;
  const layout = micro ? '2006-01-02T15:04:05.000000Z07:00' : '2006-01-02T15:04:05Z07:00';
  if (typeof v !== 'string') throw badRequest(`Event in version "${version}" cannot be handled as a Event: json: cannot unmarshal ${typeof v} into Go value of type string`);
  if (!(micro ? MICRO : RFC3339).test(v)) {
    const rest = v.slice(19);
    throw badRequest(`Event in version "${version}" cannot be handled as a Event: parsing time "${v}" as "${layout}": cannot parse "${rest}" as "${micro ? '.000000' : 'Z07:00'}"`);
  }
}

function utcMicro(v: string): string {
  const [, head, digits, zone] = v.match(/^(.*\.)(\d{6})(.*)$/)!;
  return `${new Date(`${head}${digits!.slice(0, 3)}${zone}`).toISOString().slice(0, 20)}${digits}Z`;
}

const zeroTime = (v: unknown) => v === undefined || v === null;

export function createEventStore(nextVersion: () => string) {
  const stored = new Map<string, Obj>(); // "<ns>/<name>" -> core shape

  function toCore(e: Obj): Obj {
    const out: Obj = { kind: 'Event', apiVersion: 'v1', ...clone(e) };
    out.source ??= {};
    out.firstTimestamp ??= null;
    out.lastTimestamp ??= null;
    out.eventTime ??= null;
    out.reportingComponent ??= '';
    out.reportingInstance ??= '';
    return out;
  }

  function toEvents(e: Obj): Obj {
    const c = clone(e);
    const out: Obj = { kind: 'Event', apiVersion: 'events.k8s.io/v1', metadata: c.metadata, eventTime: c.eventTime ?? null };
    for (const k of ['series', 'reportingComponent', 'reportingInstance', 'action', 'reason', 'involvedObject', 'related', 'message', 'type', 'source', 'firstTimestamp', 'lastTimestamp', 'count']) {
      const name = RENAMES.find(([, core]) => core === k)?.[0] ?? k;
      if (c[k] !== undefined && c[k] !== '' && c[k] !== 0) out[name] = c[k];
    }
    out.regarding ??= {};
    out.deprecatedSource ??= {};
    out.deprecatedFirstTimestamp ??= null;
    out.deprecatedLastTimestamp ??= null;
    return out;
  }

  function decode(api: EventApi, body: unknown): Obj {
    const version = api === 'core' ? 'v1' : 'events.k8s.io/v1';
    if (!isObj(body)) throw badRequest('Event in version "v1" cannot be handled as a Event: the body is not a JSON object');
    if (body.apiVersion !== undefined && body.apiVersion !== version) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${version})`);
    }
    if (body.kind !== undefined && body.kind !== 'Event') throw badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (Event)`);
    const e: Obj = {};
    for (const [k, v] of Object.entries(clone(body))) {
      if (k === 'apiVersion' || k === 'kind') continue;
      e[api === 'events' ? RENAMES.find(([ev]) => ev === k)?.[1] ?? k : k] = v;
    }
    checkTime(e.eventTime, true, 'v1');
    checkTime(e.series?.lastObservedTime, true, 'v1');
    checkTime(e.firstTimestamp, false, 'v1');
    checkTime(e.lastTimestamp, false, 'v1');
    // Stored as the server re-encodes them: UTC, Time in whole seconds, MicroTime with six digits.
    for (const k of ['firstTimestamp', 'lastTimestamp']) if (e[k]) e[k] = new Date(e[k]).toISOString().replace(/\.\d+Z$/, 'Z');
    if (e.eventTime) e.eventTime = utcMicro(e.eventTime);
    if (e.series?.lastObservedTime) e.series.lastObservedTime = utcMicro(e.series.lastObservedTime);
    return e;
  }

  // pkg/apis/core/validation/events.go ValidateEventCreate (the event strategy's Validate): legacyValidateEvent for
  // every version; for events.k8s.io/v1 also the strict part, whose ValidateObjectMeta(NameIsDNSSubdomain) refuses a
  // generateName such as `node.postjoin.` (only a trailing '-' is forgiven). A core/v1 event's name is never held
  // to DNS rules: the legacy path returns before them.
  function validate(api: EventApi, e: Obj): FieldError[] {
    const errs: FieldError[] = [];
    const ns: string = e.metadata?.namespace ?? '';
    const involvedNs: string = e.involvedObject?.namespace ?? '';
    const nsMismatch: FieldError = { type: 'Invalid', field: 'involvedObject.namespace', value: involvedNs, detail: 'does not match event.namespace' };
    // legacyValidateEvent. Without eventTime (what client-go's record.EventRecorder posts, the kubelet's events):
    // only the namespace must agree with involvedObject's. With eventTime: the reporting fields and the lengths too.
    if (zeroTime(e.eventTime)) {
      if (involvedNs === '' ? ns !== '' && ns !== 'default' : ns !== involvedNs) errs.push(nsMismatch);
    } else {
      if (involvedNs === '' && ns !== 'default' && ns !== 'kube-system') errs.push(nsMismatch);
      const rc: string = e.reportingComponent ?? '';
      if (rc === '') errs.push({ type: 'Required', field: 'reportingController' });
      for (const msg of qualifiedNameErrors(rc)) errs.push({ type: 'Invalid', field: 'reportingController', value: rc, detail: msg });
      for (const [field, key, limit] of [['reportingInstance', 'reportingInstance', 128], ['action', 'action', 128], ['reason', 'reason', 128]] as const) {
        const v: string = e[key] ?? '';
        if (v === '') errs.push({ type: 'Required', field });
        if (v.length > limit) errs.push({ type: 'Invalid', field, value: '', detail: `can have at most ${limit} characters` });
      }
      if ((e.message ?? '').length > 1024) errs.push({ type: 'Invalid', field: 'message', value: '', detail: 'can have at most 1024 characters' });
    }
    for (const msg of subdomainErrors(ns)) errs.push({ type: 'Invalid', field: 'namespace', value: ns, detail: msg });
    if (api === 'core') return errs;
    // The strict part, events.k8s.io/v1 only.
    errs.push(...objectMetaErrors(e.metadata ?? {}, nameIsDnsSubdomain));
    if (e.series != null) {
      if (!(e.series.count >= 2)) errs.push({ type: 'Invalid', field: 'series.count', value: '', detail: 'should be at least 2' });
      if (zeroTime(e.series.lastObservedTime)) errs.push({ type: 'Required', field: 'series.lastObservedTime' });
    }
    if (zeroTime(e.eventTime)) errs.push({ type: 'Required', field: 'eventTime' });
    if (e.type !== 'Normal' && e.type !== 'Warning') errs.push({ type: 'Invalid', field: 'type', value: '', detail: `has invalid value: ${e.type ?? ''}` });
    if (!zeroTime(e.firstTimestamp)) errs.push({ type: 'Invalid', field: 'firstTimestamp', value: '', detail: 'needs to be unset' });
    if (!zeroTime(e.lastTimestamp)) errs.push({ type: 'Invalid', field: 'lastTimestamp', value: '', detail: 'needs to be unset' });
    if ((e.count ?? 0) !== 0) errs.push({ type: 'Invalid', field: 'count', value: '', detail: 'needs to be unset' });
    if (e.source?.component || e.source?.host) errs.push({ type: 'Invalid', field: 'source', value: '', detail: 'needs to be unset' });
    return errs;
  }

  const group = (api: EventApi) => (api === 'core' ? '' : 'events.k8s.io');
  const shape = (api: EventApi, e: Obj) => (api === 'core' ? toCore(e) : toEvents(e));

  return {
    create(api: EventApi, namespace: string, body: unknown): Obj {
      const e = decode(api, body);
      const meta: Obj = isObj(e.metadata) ? e.metadata : {};
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
      // registry/generic Store.Create names the object from generateName before any validation sees it.
      if (!meta.name && meta.generateName) meta.name = generatedName(String(meta.generateName), suffix());
      e.metadata = meta;
      const errs = validate(api, e);
      if (errs.length > 0) throw invalid('Event', group(api), meta.name ?? '', errs);
      // registry/rest BeforeCreate: after the strategy's own checks, the common ones every object meets.
      const common = objectMetaErrors(meta, nameIsPathSegment);
      if (common.length > 0) throw invalid('Event', group(api), meta.name ?? '', common);
      const key = `${namespace}/${meta.name}`;
      if (stored.has(key)) throw alreadyExists('events', group(api), meta.name);
      Object.assign(meta, { uid: randomUUID(), resourceVersion: nextVersion(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
      stored.set(key, e);
      return shape(api, e);
    },
    get(api: EventApi, namespace: string, name: string): Obj {
      const e = stored.get(`${namespace}/${name}`);
      if (!e) throw notFound('events', group(api), name);
      return shape(api, e);
    },
    /** The items of a list, `namespace` undefined for all namespaces, filtered by a field selector's terms. */
    list(api: EventApi, namespace: string | undefined, fields: [string, '=' | '!=', string][]): Obj[] {
      return this.listStored(namespace, fields).map((e) => shape(api, e));
    },
    /** The same, in the stored (core) shape, for the table printer. */
    listStored(namespace: string | undefined, fields: [string, '=' | '!=', string][]): Obj[] {
      return [...stored.values()]
        .filter((e) => namespace === undefined || e.metadata.namespace === namespace)
        .filter((e) => fields.every(([f, op, v]) => (fieldOf(e, f) === v) === (op === '=')))
        .map(toCore);
    },
    all: () => [...stored.values()].map(toEvents),
  };
}

/** The event fields a field selector may name: the core names, and the events.k8s.io ones (regarding.*, …). */
export const EVENT_FIELDS = [
  'metadata.name', 'metadata.namespace', 'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid',
  'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type',
  'regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reportingController',
];

function fieldOf(e: Obj, field: string): string {
  const f = field.replace(/^regarding\./, 'involvedObject.').replace(/^reportingController$/, 'reportingComponent');
  if (f === 'source') return e.source?.component ?? '';
  const v = f.split('.').reduce<any>((o, k) => (o == null ? undefined : o[k]), e);
  return v === undefined || v === null ? '' : String(v);
}

// names.SimpleNameGenerator: five characters from an alphabet without vowels and look-alikes.
function suffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

// pkg/printers/internalversion printEvent: the server prints every column; kubectl hides priority 1 unless -o wide.
const EVENT_COLUMNS = [
  ['Last Seen', 0, ''], ['Type', 0, ''], ['Reason', 0, ''], ['Object', 0, ''], ['Subobject', 1, ''], ['Source', 1, ''],
  ['Message', 0, ''], ['First Seen', 1, ''], ['Count', 1, ''], ['Name', 1, 'name'],
].map(([name, priority, format]) => ({ name, type: 'string', format, description: '', priority }));

/** A meta.k8s.io/v1 Table of events; `items` in the stored (core) shape. */
export function eventTable(items: Obj[], resourceVersion: string, includeObject: string | undefined): Obj {
  const since = (t: string | null | undefined) => (t ? humanDuration(Date.now() - Date.parse(t)) : '<unknown>');
  const rows = items.map((e) => {
    const first = e.firstTimestamp ? since(e.firstTimestamp) : since(e.eventTime);
    const last = e.series ? since(e.series.lastObservedTime) : e.lastTimestamp ? since(e.lastTimestamp) : first;
    const count = e.series ? e.series.count : e.count || 1;
    const io = e.involvedObject ?? {};
    const target = io.name ? `${String(io.kind ?? '').toLowerCase()}/${io.name}` : String(io.kind ?? '').toLowerCase();
    const component = e.source?.component || e.reportingComponent || '';
    const host = e.source?.host || e.reportingInstance || '';
    const source = component && host ? `${component}, ${host}` : component;
    const object = includeObject === 'None' ? undefined : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: e.metadata };
    return { cells: [last, e.type ?? '', e.reason ?? '', target, io.fieldPath ?? '', source, String(e.message ?? '').trim(), first, count, e.metadata.name], object };
  });
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion }, columnDefinitions: EVENT_COLUMNS, rows };
}
