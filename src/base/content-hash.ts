import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level, so equal content always hashes equal. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * The once-state hash (design §5): the kind, its spec, env and cwd. Name, source, timeout, retries,
 * retryDelay and onFailure are left out, so moving a task or tuning its retries does not redo it.
 */
export function taskContentHash(t: { kind: string; spec: unknown; env?: Record<string, string>; cwd?: string }): string {
  const body = stableStringify({ kind: t.kind, spec: t.spec, env: t.env ?? {}, cwd: t.cwd ?? null });
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
