// One build at a time per artifact: the packaging tests run in parallel and each may ask for the same
// single executable or RPM; the second waits, then finds the first one's output up to date.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function holderAlive(dir) {
  try {
    const pid = Number(readFileSync(join(dir, 'pid'), 'utf8'));
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but is someone else's.
    if (err.code === 'EPERM') return true;
    // No pid file yet: the holder is between mkdir and writing it, unless that was long ago.
    if (err.code === 'ENOENT') {
      try {
        return Date.now() - statSync(dir).mtimeMs < 10_000;
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** Runs fn while holding the lock directory `dir`; a lock left by a dead process is taken over. */
export async function withBuildLock(dir, fn, { waitMs = 20 * 60_000 } = {}) {
  const deadline = Date.now() + waitMs;
  let announced = false;
  for (;;) {
    try {
      mkdirSync(dir, { recursive: false });
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (!holderAlive(dir)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the build lock ${dir}`);
      if (!announced) process.stderr.write(`waiting for another build holding ${dir}\n`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
