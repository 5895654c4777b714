// Errors of the Kubernetes API stand-in, shaped and worded as k8s.io/apimachinery's: a `Status` object with the
// reason, the code and (for 422) the field causes, so that kubectl prints "Error from server (Forbidden): …" etc.

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
    /** Extra response headers (Retry-After on 429). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export function statusBody(e: ApiError): Record<string, unknown> {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: e.message,
    ...(e.reason ? { reason: e.reason } : {}),
    ...(e.details ? { details: e.details } : {}),
    code: e.code,
  };
}

/** A resource as apimachinery's GroupResource prints it: "nodes", "events.events.k8s.io". */
export const groupResource = (resource: string, group = '') => (group ? `${resource}.${group}` : resource);

export function forbidden(resource: string, group: string, name: string, why: string): ApiError {
  const gr = groupResource(resource.split('/')[0]!, group);
  const subject = name ? `${gr} "${name}"` : gr;
  return new ApiError(403, 'Forbidden', `${subject} is forbidden: ${why}`, { ...(name ? { name } : {}), ...(group ? { group } : {}), kind: resource.split('/')[0] });
}

export function notFound(resource: string, group: string, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${groupResource(resource, group)} "${name}" not found`, { name, ...(group ? { group } : {}), kind: resource });
}

export function conflict(resource: string, group: string, name: string, why: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${groupResource(resource, group)} "${name}": ${why}`, {
    name,
    ...(group ? { group } : {}),
    kind: resource,
  });
}

export function alreadyExists(resource: string, group: string, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${groupResource(resource, group)} "${name}" already exists`, { name, ...(group ? { group } : {}), kind: resource });
}

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

/** One field error, as field.Error: Required, Invalid (with the bad value), NotSupported (with the allowed values). */
export type FieldError =
  | { type: 'Required'; field: string; detail?: string }
  | { type: 'Invalid'; field: string; value: unknown; detail: string }
  | { type: 'NotSupported'; field: string; value: unknown; supported: string[] }
  | { type: 'Forbidden'; field: string; detail: string };

function body(e: FieldError): string {
  const value = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : v === undefined || v === null ? 'null' : JSON.stringify(v));
  switch (e.type) {
    case 'Required':
      return e.detail ? `Required value: ${e.detail}` : 'Required value';
    case 'Forbidden':
      return `Forbidden: ${e.detail}`;
    case 'Invalid':
      return `Invalid value: ${value(e.value)}${e.detail ? `: ${e.detail}` : ''}`;
    case 'NotSupported':
      return `Unsupported value: ${value(e.value)}: supported values: ${e.supported.map((s) => JSON.stringify(s)).join(', ')}`;
  }
}

const causeReason = { Required: 'FieldValueRequired', Invalid: 'FieldValueInvalid', NotSupported: 'FieldValueNotSupported', Forbidden: 'FieldValueForbidden' };

/** 422 Invalid: `Kind.group "name" is invalid: field: Required value` ([a, b] when there are several). */
export function invalid(kind: string, group: string, name: string, errs: FieldError[]): ApiError {
  const texts = errs.map((e) => `${e.field}: ${body(e)}`);
  const qualified = group ? `${kind}.${group}` : kind;
  const message = `${qualified} "${name}" is invalid: ${texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`}`;
  const causes = errs.map((e) => ({ reason: causeReason[e.type], message: body(e), field: e.field }));
  return new ApiError(422, 'Invalid', message, { name, ...(group ? { group } : {}), kind, causes });
}

// Label syntax (k8s.io/apimachinery/pkg/util/validation): keys are qualified names, values are short names or empty.
const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/** validation.IsQualifiedName: the messages for a bad `prefix/name`, none when it is fine. */
export function qualifiedNameErrors(key: string): string[] {
  const parts = key.split('/');
  const errs: string[] = [];
  if (parts.length > 2) return [`a qualified name ${NAME_MSG.replace(/\)$/, ") with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")}`];
  const name = parts.length === 2 ? parts[1]! : parts[0]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else if (prefix.length > 253) errs.push('prefix part must be no more than 253 characters');
    else if (!DNS1123_SUBDOMAIN.test(prefix)) errs.push(`prefix part ${SUBDOMAIN_MSG}`);
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (name.length > 63) errs.push('name part must be no more than 63 characters');
  if (name.length > 0 && !NAME.test(name)) errs.push(`name part ${NAME_MSG}`);
  return errs;
}

export function labelErrors(labels: unknown, field = 'metadata.labels'): FieldError[] {
  if (labels === undefined || labels === null) return [];
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    for (const msg of qualifiedNameErrors(k)) errs.push({ type: 'Invalid', field, value: k, detail: msg });
    const value = typeof v === 'string' ? v : String(v);
    if (value.length > 63) errs.push({ type: 'Invalid', field, value, detail: 'must be no more than 63 characters' });
    if (value !== '' && !NAME.test(value)) errs.push({ type: 'Invalid', field, value, detail: VALUE_MSG });
  }
  return errs;
}

export const isDns1123Subdomain = (s: string) => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
export { SUBDOMAIN_MSG };

// Object names (k8s.io/apimachinery/pkg/api/validation): a ValidateNameFunc gets the name and whether it is a
// generateName prefix, and returns messages.
export type NameRule = (name: string, prefix: boolean) => string[];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/** util/validation IsDNS1123Subdomain: the length, then the pattern. */
export function subdomainErrors(s: string): string[] {
  return [...(s.length > 253 ? ['must be no more than 253 characters'] : []), ...(DNS1123_SUBDOMAIN.test(s) ? [] : [SUBDOMAIN_MSG])];
}

// generic.go maskTrailingDash: a generateName may end in '-' (the random suffix follows it), and in nothing else
// that a name may not end in: `node.postjoin.` is refused.
const maskTrailingDash = (s: string) => (s.endsWith('-') ? `${s.slice(0, -2)}a` : s);

/** generic.go NameIsDNSSubdomain: what events.k8s.io/v1 (ValidateEventCreate's strict part) applies to names. */
export const nameIsDnsSubdomain: NameRule = (name, prefix) => subdomainErrors(prefix ? maskTrailingDash(name) : name);

/**
 * path/name.go ValidatePathSegmentName: the only rule apiserver's registry/rest BeforeCreate applies to every
 * object's name (so the only one a core/v1 Event's name meets): not "." or "..", no "/" or "%"; a prefix may be ".".
 */
export const nameIsPathSegment: NameRule = (name, prefix) => {
  if (!prefix && (name === '.' || name === '..')) return [`may not be '${name}'`];
  return ['/', '%'].filter((c) => name.includes(c)).map((c) => `may not contain '${c}'`);
};

/** objectmeta.go ValidateObjectMetaAccessor for a namespaced object on create: generateName, name, namespace. */
export function objectMetaErrors(meta: { name?: string; generateName?: string; namespace?: string }, rule: NameRule): FieldError[] {
  const errs: FieldError[] = [];
  const gen = meta.generateName ?? '';
  if (gen !== '') for (const msg of rule(gen, true)) errs.push({ type: 'Invalid', field: 'metadata.generateName', value: gen, detail: msg });
  const name = meta.name ?? '';
  if (name === '') errs.push({ type: 'Required', field: 'metadata.name', detail: 'name or generateName is required' });
  else for (const msg of rule(name, false)) errs.push({ type: 'Invalid', field: 'metadata.name', value: name, detail: msg });
  const ns = meta.namespace ?? '';
  if (ns === '') errs.push({ type: 'Required', field: 'metadata.namespace' });
  else {
    // ValidateNamespaceName = NameIsDNSLabel
    if (ns.length > 63) errs.push({ type: 'Invalid', field: 'metadata.namespace', value: ns, detail: 'must be no more than 63 characters' });
    if (!DNS1123_LABEL.test(ns)) errs.push({ type: 'Invalid', field: 'metadata.namespace', value: ns, detail: LABEL_MSG });
  }
  return errs;
}

/** storage/names SimpleNameGenerator: the base cut to 58 characters, then 5 random ones (the caller's alphabet). */
export const generatedName = (base: string, suffix: string) => `${base.slice(0, 58)}${suffix}`;
