import { execFile, type ExecFileException } from 'node:child_process';
import { formatDuration } from '../../base/duration.js';
import { quoted } from '../../base/shown-text.js';
import { inheritedEnv } from './process-group.js';

/** SSSD or LDAP behind NSS may be slow on a cold cache, but a hung directory must not hold a task forever. */
const GETENT_TIMEOUT_MS = 15_000;

/**
 * Resolves a user or group name through the system's resolver, `getent passwd|group NAME`, so every NSS source
 * (files, systemd, SSSD, LDAP) counts, as it does for chown(1). Numeric IDs pass through. Resolved at run
 * time, not plan time, because an earlier task may create the account. getent gets the name as one argv word,
 * never through a shell.
 */
export async function resolveId(kind: 'user' | 'group', nameOrId: string, opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<number> {
  if (/^\d+$/.test(nameOrId)) return Number(nameOrId);
  const db = kind === 'user' ? 'passwd' : 'group';
  const timeoutMs = opts.timeoutMs ?? GETENT_TIMEOUT_MS;
  const r = await getent(db, nameOrId, timeoutMs, opts.signal);
  const cannot = (why: string) => new Error(`cannot resolve ${kind} ${quoted(nameOrId)}: ${why}`);
  if (r.kind === 'not-found') throw new Error(`no ${kind} ${quoted(nameOrId)} (getent ${db} found none)`);
  if (r.kind === 'failed') throw cannot(r.reason);
  const fields = (r.stdout.split('\n')[0] ?? '').split(':');
  if (fields[0] !== nameOrId || !/^\d+$/.test(fields[2] ?? '')) throw cannot(`getent ${db} answered ${quoted(r.stdout, 200)}, not an entry for it`);
  return Number(fields[2]);
}

type GetentResult = { kind: 'found'; stdout: string } | { kind: 'not-found' } | { kind: 'failed'; reason: string };

function getent(db: string, key: string, timeoutMs: number, signal?: AbortSignal): Promise<GetentResult> {
  return new Promise((resolve) => {
    const opts = { timeout: timeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 64 * 1024, env: inheritedEnv(), ...(signal ? { signal } : {}) };
    execFile('getent', [db, '--', key], opts, (err, stdout, stderr) => {
      if (!err) return resolve({ kind: 'found', stdout });
      const e: ExecFileException = err;
      // getent's documented exit status 2: the key was not found in the database.
      if (e.code === 2) return resolve({ kind: 'not-found' });
      if (e.name === 'AbortError') return resolve({ kind: 'failed', reason: `getent ${db} was stopped` });
      if (e.killed) return resolve({ kind: 'failed', reason: `getent ${db} did not answer within ${formatDuration(timeoutMs)}` });
      if (e.code === 'ENOENT') return resolve({ kind: 'failed', reason: 'getent is not installed (glibc-common on Amazon Linux, libc-bin on Debian)' });
      const detail = String(stderr).trim().split('\n')[0] ?? '';
      resolve({ kind: 'failed', reason: `getent ${db} failed (${typeof e.code === 'number' ? `exit ${e.code}` : e.message})${detail ? `: ${detail}` : ''}` });
    });
  });
}
