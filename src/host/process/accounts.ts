import { formatDuration } from '../../base/duration.js';
import { SPAWN_BASE, loadExeca } from './lazy-execa.js';
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

/** execa's timeout, cancelSignal and maxBuffer bound it; getent is one process, so killing its pid is enough. */
async function getent(db: string, key: string, timeoutMs: number, signal?: AbortSignal): Promise<GetentResult> {
  const { execa } = await loadExeca();
  const r = await execa('getent', [db, '--', key], {
    ...SPAWN_BASE,
    env: inheritedEnv(),
    extendEnv: false,
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  if (!r.failed) return { kind: 'found', stdout: r.stdout };
  // getent's documented exit status 2: the key was not found in the database.
  if (r.exitCode === 2) return { kind: 'not-found' };
  if (r.isCanceled) return { kind: 'failed', reason: `getent ${db} was stopped` };
  if (r.timedOut) return { kind: 'failed', reason: `getent ${db} did not answer within ${formatDuration(timeoutMs)}` };
  if (r.code === 'ENOENT') return { kind: 'failed', reason: 'getent is not installed (glibc-common on Amazon Linux, libc-bin on Debian)' };
  if (r.isMaxBuffer) return { kind: 'failed', reason: `getent ${db} answered more than 64 KiB, which is not one entry` };
  const detail = (r.stderr ?? '').trim().split('\n')[0] ?? ''; // undefined when Node refused to start it
  const how = r.exitCode !== undefined ? `exit ${r.exitCode}` : r.signal ? `killed by ${r.signal}` : (r.originalMessage ?? r.message);
  return { kind: 'failed', reason: `getent ${db} failed (${how})${detail ? `: ${detail}` : ''}` };
}
