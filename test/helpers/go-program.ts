// Builds one of the small Go programs in test/helpers (offline: no module downloads, no toolchain switch) and
// runs it with JSON on stdin and JSON on stdout.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './cli.js';

const run = promisify(execFile);

/** Builds test/helpers/NAME into a temp dir, removed by `teardown`. The build cache is shared across runs. */
export async function buildGoProgram(name: string, teardown: (fn: () => void) => void): Promise<string> {
  const out = mkdtempSync(join(tmpdir(), `postjoin-${name}-`));
  teardown(() => rmSync(out, { recursive: true, force: true }));
  const cache = join(tmpdir(), 'postjoin-go-build-cache');
  mkdirSync(cache, { recursive: true });
  const env = { ...process.env, GOCACHE: cache, GOPATH: join(cache, 'gopath'), GOPROXY: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '' };
  await run('go', ['build', '-o', join(out, name), '.'], { cwd: join(ROOT, 'test/helpers', name), env, timeout: 300_000 });
  return join(out, name);
}

export function runGoJson<T>(bin: string, input: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, [], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout) as T);
    });
    child.stdin!.end(JSON.stringify(input));
  });
}
