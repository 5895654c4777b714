import { readFileSync } from 'node:fs';

/** Whether a process runs. A zombie still answers kill(0), but it is dead for the tests' purposes. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}
