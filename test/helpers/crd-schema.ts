// Checks a manifest against a CustomResourceDefinition's openAPIV3Schema the way the API server's structural
// schema validation does on create: types (nullable, x-kubernetes-int-or-string), required fields, enums,
// patterns (Go regexp, unanchored), lengths, item and property counts, bounds, allOf/anyOf/oneOf/not, and unknown
// fields, which `kubectl apply` refuses (strict field validation) unless x-kubernetes-preserve-unknown-fields.
// CEL rules (x-kubernetes-validations) are not evaluated here: they are returned, each with the value it applies
// to, for the caller to check. `metadata` is left to the API server's ObjectMeta rules.
import { parseAllDocuments } from 'yaml';

export interface Schema {
  type?: string;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  minimum?: number;
  maximum?: number;
  allOf?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  not?: Schema;
  default?: unknown;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
}

export interface CelCheck {
  path: string;
  rule: string;
  message: string;
  self: unknown;
}

export interface Crd {
  group: string;
  kind: string;
  versions: Record<string, Schema>;
}

export function parseCrd(text: string): Crd {
  const crd = parseAllDocuments(text).map((d) => d.toJS()).find((d) => d?.kind === 'CustomResourceDefinition');
  const versions: Record<string, Schema> = {};
  for (const v of crd.spec.versions) versions[v.name] = v.schema.openAPIV3Schema;
  return { group: crd.spec.group, kind: crd.spec.names.kind, versions };
}

/** Every schema error in `obj` (a whole manifest), and the CEL rules that apply to the values it has. */
export function checkManifest(crd: Crd, obj: Record<string, unknown>): { errors: string[]; cel: CelCheck[] } {
  const errors: string[] = [];
  const cel: CelCheck[] = [];
  const [group, version] = String(obj.apiVersion).split('/');
  const schema = version === undefined ? undefined : crd.versions[version];
  if (group !== crd.group || !schema) errors.push(`apiVersion ${String(obj.apiVersion)} is not served by the ${crd.group} CRD`);
  if (obj.kind !== crd.kind) errors.push(`kind ${String(obj.kind)} is not ${crd.kind}`);
  if (schema) {
    const { metadata, ...rest } = obj;
    const root: Schema = { ...schema, properties: { ...schema.properties, metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } };
    check(root, metadata === undefined ? rest : { ...rest, metadata }, '', errors, cel);
  }
  return { errors, cel };
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function check(s: Schema, v: unknown, path: string, errors: string[], cel: CelCheck[]): void {
  const at = path || '<root>';
  for (const r of s['x-kubernetes-validations'] ?? []) cel.push({ path: at, rule: r.rule, message: r.message ?? '', self: v });
  if (v === null) {
    if (!s.nullable) errors.push(`${at}: null is not allowed`);
    return;
  }
  const t = typeOf(v);
  if (s['x-kubernetes-int-or-string']) {
    if (t !== 'integer' && t !== 'string') errors.push(`${at}: expected an integer or a string, got ${t}`);
  } else if (s.type && !(s.type === t || (s.type === 'number' && t === 'integer'))) {
    errors.push(`${at}: expected ${s.type}, got ${t}`);
    return;
  }
  if (s.enum && !s.enum.some((e) => e === v)) errors.push(`${at}: ${JSON.stringify(v)} is not one of ${JSON.stringify(s.enum)}`);
  if (typeof v === 'string') {
    const n = [...v].length;
    if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${at}: ${JSON.stringify(v)} does not match ${s.pattern}`);
    if (s.minLength !== undefined && n < s.minLength) errors.push(`${at}: shorter than ${s.minLength}`);
    if (s.maxLength !== undefined && n > s.maxLength) errors.push(`${at}: longer than ${s.maxLength}`);
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errors.push(`${at}: below ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errors.push(`${at}: above ${s.maximum}`);
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) errors.push(`${at}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && v.length > s.maxItems) errors.push(`${at}: more than ${s.maxItems} items`);
    if (s.items) v.forEach((item, i) => check(s.items!, item, `${path}[${i}]`, errors, cel));
  }
  if (t === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (s.minProperties !== undefined && keys.length < s.minProperties) errors.push(`${at}: fewer than ${s.minProperties} properties`);
    if (s.maxProperties !== undefined && keys.length > s.maxProperties) errors.push(`${at}: more than ${s.maxProperties} properties`);
    // The API server fills in a field's default before it validates, so a required field with a default is never missing.
    for (const k of s.required ?? []) if (!(k in o) && s.properties?.[k]?.default === undefined) errors.push(`${at}: ${k} is required`);
    for (const k of keys) {
      const sub = s.properties?.[k] ?? (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
      if (sub) check(sub, o[k], `${path}.${k}`, errors, cel);
      else if (!s['x-kubernetes-preserve-unknown-fields'] && s.additionalProperties !== true) errors.push(`${at}: unknown field "${k}"`);
    }
  }
  const quiet = (sub: Schema) => {
    const e: string[] = [];
    check(sub, v, path, e, []);
    return e.length === 0;
  };
  for (const sub of s.allOf ?? []) check({ ...sub, 'x-kubernetes-preserve-unknown-fields': true }, v, path, errors, cel);
  if (s.anyOf && !s.anyOf.some((sub) => quiet({ ...sub, 'x-kubernetes-preserve-unknown-fields': true }))) errors.push(`${at}: matches none of anyOf`);
  if (s.oneOf && s.oneOf.filter((sub) => quiet({ ...sub, 'x-kubernetes-preserve-unknown-fields': true })).length !== 1) errors.push(`${at}: does not match exactly one of oneOf`);
  if (s.not && quiet({ ...s.not, 'x-kubernetes-preserve-unknown-fields': true })) errors.push(`${at}: matches "not"`);
}
