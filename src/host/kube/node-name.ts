import { readFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';

/** Where nodeadm writes the kubelet's flags (nodeadm/internal/kubelet/environment.go). */
export const KUBELET_ENV_FILE = '/etc/eks/kubelet/environment';
const ARGS_VAR = 'NODEADM_KUBELET_ARGS';
const FLAG = '--hostname-override';

export interface NodeIdentity {
  name: string;
  /** How it was found, for the log line. */
  from: 'config' | 'kubelet-env' | 'hostname';
}

/**
 * The Node's name, as the kubelet chose it: `kubernetes.nodeName` if set; else the kubelet's
 * `--hostname-override` from NODEADM_KUBELET_ARGS (nodeadm writes the EC2 private DNS name there, or the
 * instance id with its InstanceIdNodeName gate); else the host name. The kubelet trims and lowercases both
 * (nodeutil.GetHostname), so this does too.
 */
export async function detectNodeName(opts: { configured: string | null; envFile?: string; hostname?: () => string }): Promise<NodeIdentity> {
  if (opts.configured) return { name: opts.configured, from: 'config' };
  const override = await hostnameOverride(opts.envFile ?? KUBELET_ENV_FILE);
  if (override) return { name: override, from: 'kubelet-env' };
  return { name: (opts.hostname ?? osHostname)().trim().toLowerCase(), from: 'hostname' };
}

/** The last --hostname-override in the file's NODEADM_KUBELET_ARGS (the kubelet's flag parser keeps the last). */
export async function hostnameOverride(envFile: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(envFile, 'utf8');
  } catch {
    return undefined; // no nodeadm, or not yet written: the host name is the kubelet's default too
  }
  const args = kubeletArgs(text);
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith(`${FLAG}=`)) found = a.slice(FLAG.length + 1);
    else if (a === FLAG && i + 1 < args.length) found = args[++i];
  }
  const name = found?.trim().toLowerCase();
  return name || undefined;
}

/**
 * NODEADM_KUBELET_ARGS split into words. nodeadm writes `KEY=--a=b --c=d` unquoted; systemd's EnvironmentFile
 * also allows the whole value in single or double quotes, and comment lines starting with # or ;.
 */
export function kubeletArgs(envText: string): string[] {
  let value: string | undefined;
  for (const raw of envText.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (m?.[1] === ARGS_VAR) value = m[2]!; // a later assignment wins, as in systemd
  }
  if (value === undefined) return [];
  const q = value[0];
  if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) value = value.slice(1, -1);
  return value.split(/\s+/).filter(Boolean);
}
