import { readFile } from 'node:fs/promises';

/**
 * Resolves a user or group name through /etc/passwd or /etc/group. Numeric IDs pass through. Resolved at
 * run time, not plan time, because an earlier task may create the account.
 */
export async function resolveId(kind: 'user' | 'group', nameOrId: string, root = '/'): Promise<number> {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  const file = `${root.replace(/\/$/, '')}/etc/${kind === 'user' ? 'passwd' : 'group'}`;
  const text = await readFile(file, 'utf8');
  for (const line of text.split('\n')) {
    const fields = line.split(':');
    if (fields[0] === nameOrId && fields[2] !== undefined && /^\d+$/.test(fields[2])) return Number(fields[2]);
  }
  throw new Error(`no ${kind} "${nameOrId}" in ${file}`);
}
