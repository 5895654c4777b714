import { createHmac, randomBytes } from 'node:crypto';
import { link, open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInput } from '../base/errors.js';
import { askAbstractLockHolder, bindAbstractLock } from '../host/files/abstract-socket-lock.js';
import { writeFileAtomic } from '../host/files/atomic-file.js';

export const RUN_LOCK_FILE = 'run.lock';
export type LockVerb = 'run' | 'report';
/** The secret the lock's name is derived from: in the root-only state dir, so no other user can know the name. */
export const LOCK_KEY_FILE = 'lock.key';
const KEY_BYTES = 32;

export interface RunLock {
  release(): Promise<void>;
}

/** Who holds the lock: what `run.lock` says, and what the holder answers on its lock socket. */
export interface RunLockRecord {
  pid: number;
  /** What holds it: a `run`, or a `report` delivering the last run's outcome (absent in records of older versions). */
  verb?: LockVerb;
  bootId?: string;
  /** The process's start time in clock ticks since boot (/proc/PID/stat field 22): with bootId, it names one process. */
  startTime?: string;
  startedAt: string;
}

/**
 * One run at a time per state dir: a second `postjoin run` started by hand while the unit runs would
 * otherwise run every task twice. The lock itself is held by the kernel (an abstract UNIX socket named after
 * the state dir, see host/files/abstract-socket-lock.ts), so it is released however the holder ends and no pid is
 * ever trusted. `run.lock` in the state dir is only a record for people (`cat` it): written atomically after the
 * lock is taken, and removed by its writer alone.
 *
 * The abstract namespace has no permissions: any process in the node's network namespace (a hostNetwork pod)
 * may bind any name first and so block every run. The name is therefore an HMAC of the state dir's identity and
 * this boot's id under a key only root can read (`lock.key`, 0600 in the 0700 state dir): nobody else can compute
 * it, and the one a squatter may see in /proc/net/unix during a run is worthless after the next reboot.
 */
export async function acquireRunLock(dir: string, bootId?: string, verb: LockVerb = 'run'): Promise<RunLock> {
  const path = join(dir, RUN_LOCK_FILE);
  const { dev, ino } = await stat(dir, { bigint: true });
  const key = await lockKey(dir);
  const name = `postjoin-run-${createHmac('sha256', key).update(`${bootId ?? ''}:${dev}:${ino}`).digest('hex').slice(0, 32)}`;
  const record: RunLockRecord = { pid: process.pid, verb, ...(bootId ? { bootId } : {}), ...(await ownStartTime()), startedAt: new Date().toISOString() };
  const text = `${JSON.stringify(record)}\n`;
  const attempt = await bindAbstractLock(name, () => text.trim()).catch((err: unknown) => {
    throw new InvalidInput({ source: `state dir ${dir}`, message: `cannot take the run lock: ${(err as Error).message}` });
  });
  if ('busy' in attempt) throw await refusal(dir, path, name);
  try {
    // Not fsynced: after a crash the record is stale whatever it says, and the kernel lock is gone anyway.
    await writeFileAtomic(path, text, { durable: false });
  } catch (err) {
    await attempt.held.release();
    throw err;
  }
  return {
    async release() {
      // While the lock is still ours nobody else writes the record, so what we read is what we remove.
      if ((await readFile(path, 'utf8').catch(() => undefined)) === text) await rm(path, { force: true });
      await attempt.held.release();
    },
  };
}

async function refusal(dir: string, path: string, name: string): Promise<InvalidInput> {
  const source = `state dir ${dir}`;
  const holder = parseRecord(await askAbstractLockHolder(name));
  if (holder) {
    return new InvalidInput({ source, message: `another postjoin ${holder.verb ?? 'run'} (pid ${holder.pid}) is in progress, started ${holder.startedAt}; see ${path}` });
  }
  return new InvalidInput({
    source,
    message: `another process holds this state dir's run lock (the abstract socket @${name}) and does not say it is a postjoin run; \`ss -xlp | grep ${name}\` names it`,
  });
}

/**
 * The state dir's lock key, made once. It appears complete or not at all (written beside, then linked into
 * place), so two first runs racing to make it end up with the same key, and a half-written key is never read.
 */
async function lockKey(dir: string): Promise<Buffer> {
  const path = join(dir, LOCK_KEY_FILE);
  const existing = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing && existing.length === KEY_BYTES) return existing;
  const tmp = join(dir, `.${LOCK_KEY_FILE}.${randomBytes(8).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(randomBytes(KEY_BYTES));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    // A key of the wrong length (truncated by a crash before this scheme wrote keys whole) is replaced.
    if (existing) await rm(path, { force: true });
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await rm(tmp, { force: true });
  }
  return readFile(path);
}

function parseRecord(text: string | undefined): RunLockRecord | undefined {
  try {
    const r = JSON.parse(text ?? '') as Partial<RunLockRecord>;
    return Number.isInteger(r.pid) && typeof r.startedAt === 'string' ? (r as RunLockRecord) : undefined;
  } catch {
    return undefined;
  }
}

async function ownStartTime(): Promise<{ startTime?: string }> {
  const stat = await readFile('/proc/self/stat', 'utf8').catch(() => '');
  // Fields after the command name, which is in parentheses and may itself hold spaces; starttime is field 22.
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  return startTime ? { startTime } : {};
}
