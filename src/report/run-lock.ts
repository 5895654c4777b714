import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInput } from '../errors.js';

export interface RunLock {
  release(): Promise<void>;
}

/**
 * One run at a time per state dir: a second `postjoin run` started by hand while the unit runs would
 * otherwise run every task twice. A lock left by a dead process (SIGKILL, power loss) is taken over.
 */
export async function acquireRunLock(dir: string): Promise<RunLock> {
  const path = join(dir, 'run.lock');
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return { release: () => rm(path, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(holder) && holder > 0 && (await isPostjoin(holder))) {
      throw new InvalidInput({ source: `state dir ${dir}`, message: `another postjoin run (pid ${holder}) is in progress; see ${path}` });
    }
    await rm(path, { force: true });
  }
  throw new InvalidInput({ source: `state dir ${dir}`, message: `cannot take ${path}` });
}

async function isPostjoin(pid: number): Promise<boolean> {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmd.includes('postjoin');
}
