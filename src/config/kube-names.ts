import { z } from 'zod';
import { quoted } from '../base/shown-text.js';

/**
 * Kubernetes name rules (apimachinery's validation), checked when the config loads: a bad condition type or
 * label key would otherwise be found by the API server at the end of a boot, on 500 nodes at once.
 */
const DNS_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(\\.${DNS_LABEL})*$`);
const NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Why s is not a DNS-1123 subdomain (a Node's name, a prefix), or undefined. */
export function subdomainProblem(s: string): string | undefined {
  if (s.length === 0) return 'is empty';
  if (s.length > 253) return 'is longer than 253 characters';
  if (!DNS_SUBDOMAIN.test(s)) return 'must be lowercase letters, digits, "-" and ".", starting and ending with a letter or digit';
  return undefined;
}

/** Why s is not a qualified name (`[prefix/]name`, as label keys and condition types are), or undefined. */
export function qualifiedNameProblem(s: string): string | undefined {
  const parts = s.split('/');
  if (parts.length > 2) return 'has more than one "/"; the form is prefix/name, e.g. postjoin.io/Ready';
  const name = parts.at(-1)!;
  if (parts.length === 2) {
    const p = subdomainProblem(parts[0]!);
    if (p) return `its prefix ${quoted(parts[0])} ${p}`;
  }
  if (name.length === 0) return 'has an empty name part';
  if (name.length > 63) return 'has a name part longer than 63 characters';
  if (!NAME_PART.test(name)) return 'has a name part that is not letters, digits, "-", "_" and ".", starting and ending with a letter or digit';
  return undefined;
}

/** True for the kubernetes.io and k8s.io prefixes and their subdomains: NodeRestriction keeps those for the kubelet. */
export function isReservedPrefix(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return false;
  const prefix = key.slice(0, slash);
  return ['kubernetes.io', 'k8s.io'].some((r) => prefix === r || prefix.endsWith(`.${r}`));
}

export const nodeName = (what: string) =>
  z.string({ error: `expected ${what} as a string or null` }).superRefine((s, ctx) => {
    const p = subdomainProblem(s);
    if (p) ctx.addIssue({ code: 'custom', message: `${what} ${quoted(s)} ${p}` });
  });

/** A condition type with a domain prefix, so it can never be one of the kubelet's own (Ready, MemoryPressure, …). */
export const conditionType = (what: string) =>
  z.string({ error: `expected ${what} as a string such as "postjoin.io/Ready"` }).superRefine((s, ctx) => {
    const p = qualifiedNameProblem(s);
    if (p) return ctx.addIssue({ code: 'custom', message: `${what} ${quoted(s)} ${p}` });
    if (!s.includes('/')) {
      ctx.addIssue({ code: 'custom', message: `${what} ${quoted(s)} needs a domain prefix, e.g. ${quoted(`postjoin.io/${s}`)}, so it cannot be one of the kubelet's own conditions` });
    }
  });

/** A label key the node's own identity may set: NodeRestriction refuses kubernetes.io and k8s.io keys. */
export const ownLabelKey = (what: string) =>
  z.string({ error: `expected ${what} as a label key such as "postjoin.io/result", or null` }).superRefine((s, ctx) => {
    const p = qualifiedNameProblem(s);
    if (p) return ctx.addIssue({ code: 'custom', message: `${what} ${quoted(s)} ${p}` });
    if (isReservedPrefix(s)) {
      ctx.addIssue({
        code: 'custom',
        message: `${what} ${quoted(s)} is under kubernetes.io/ or k8s.io/, which the node may not set (NodeRestriction); use your own prefix, e.g. "postjoin.io/result"`,
      });
    }
  });
