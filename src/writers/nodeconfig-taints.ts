import { isRecord } from '../base/is-record.js';

/**
 * The taints a NodeConfig asks the kubelet to register the node with, and which of them the kubelet would drop.
 * nodeadm appends `spec.kubelet.flags` to the kubelet's command line and writes `spec.kubelet.config` to its
 * config file (amazon-eks-ami, nodeadm/internal/kubelet/environment.go, config.go). The kubelet's flags win over
 * its config file, and each --register-with-taints replaces the list the one before it gave
 * (kubernetes, pkg/util/taints/taints.go, taintsVar.Set). So a flag drops every taint given elsewhere, and only
 * the last flag counts.
 */

/** One --register-with-taints in `spec.kubelet.flags`: where it is and the taints it gives (`key[=value]:effect`). */
export interface TaintFlag {
  index: number;
  taints: string[];
}

export interface RegisteredTaints {
  flags: TaintFlag[];
  /** `spec.kubelet.config.registerWithTaints`, when present. */
  config?: string[];
}

/** The kubelet normalizes "_" to "-" in flag names (WordSepNormalizeFunc). */
const FLAG = /^--register[-_]with[-_]taints(?:(?:=|\s+)([\s\S]*))?$/;

export function registeredTaints(nodeconfig: Record<string, unknown>): RegisteredTaints {
  const kubelet = record(record(nodeconfig.spec).kubelet);
  const flags = Array.isArray(kubelet.flags) ? kubelet.flags : [];
  const found: TaintFlag[] = [];
  flags.forEach((flag, index) => {
    const m = typeof flag === 'string' ? FLAG.exec(flag.trim()) : null;
    if (!m) return;
    // "--register-with-taints VALUE" may also be two items: nodeadm joins the flags with spaces.
    const next = flags[index + 1];
    const value = m[1] ?? (typeof next === 'string' ? next : '');
    found.push({ index, taints: splitTaints(value) });
  });
  const list = record(kubelet.config).registerWithTaints;
  const config = Array.isArray(list) ? list.map(taintText) : undefined;
  return config ? { flags: found, config } : { flags: found };
}

/** What the kubelet would drop, as warnings for a launch template's NodeConfig (it may mean it, so no refusal). */
export function droppedTaintWarnings(r: RegisteredTaints): string[] {
  const last = r.flags.at(-1);
  if (!last) return [];
  const warnings: string[] = [];
  const kept = new Set(last.taints);
  if (r.flags.length > 1) {
    const dropped = unique(r.flags.slice(0, -1).flatMap((f) => f.taints)).filter((x) => !kept.has(x));
    const where = r.flags.map((f) => `spec.kubelet.flags[${f.index}]`).join(', ');
    if (dropped.length > 0) {
      warnings.push(
        `spec.kubelet.flags has ${r.flags.length} --register-with-taints flags (${where}); the kubelet keeps only the last, so ${listed(dropped)}${consequence(dropped)}; give every taint in one flag, comma-separated`,
      );
    }
  }
  const fromConfig = (r.config ?? []).filter((x) => !kept.has(x));
  if (fromConfig.length > 0) {
    warnings.push(
      `--register-with-taints (spec.kubelet.flags[${last.index}]) overrides spec.kubelet.config.registerWithTaints (the kubelet's flags win over its config file), so ${listed(fromConfig)}${consequence(fromConfig)}; keep every taint in one place`,
    );
  }
  return warnings;
}

function splitTaints(value: string): string[] {
  const unquoted = value.trim().replace(/^(["'])([\s\S]*)\1$/, '$2');
  return unquoted
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function taintText(t: unknown): string {
  const { key, value, effect } = record(t);
  return `${String(key ?? '')}${value === undefined || value === '' ? '' : `=${String(value)}`}:${String(effect ?? '')}`;
}

const listed = (taints: string[]) => `${taints.join(', ')} ${taints.length === 1 ? 'is' : 'are'} dropped`;

/** A node-readiness-controller taint (its CRD requires the readiness.k8s.io/ prefix) is the one that keeps pods off. */
function consequence(dropped: string[]): string {
  return dropped.some((t) => t.startsWith('readiness.k8s.io/'))
    ? " (node-readiness-controller's startup taint: the node registers without it and pods can land before the controller taints it)"
    : '';
}

const unique = (xs: string[]) => [...new Set(xs)];

function record(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}
