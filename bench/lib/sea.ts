import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './common.js';

/**
 * The stripped Node 22 that `npm run build:sea` embeds in the single executable, as packaging caches it
 * (packaging/sea/node-runtime.mjs, strippedNode): the fair `node -e 0` to hold the single executable against.
 */
export function strippedNodePath(arch: 'x64' | 'arm64'): string | undefined {
  const pin = JSON.parse(readFileSync(join(ROOT, 'packaging/sea/node-runtime.json'), 'utf8')) as { version: string };
  const node = join(ROOT, '.cache/node-runtime', pin.version, arch, 'node');
  return existsSync(node) ? node : undefined;
}

export function embeddedNodeVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'packaging/sea/node-runtime.json'), 'utf8')) as { version: string }).version;
}

/**
 * The "before" of a comparison: the x64 single executable in a directory of artifacts kept from an earlier
 * commit (`npm run bench -- --baseline DIR`), measured in the same run as today's. It must embed the same Node
 * as today's, or `node22 -e 0` would not be its own Node.
 */
export function baselineSea(dir: string | undefined): { path?: string; note?: string } {
  if (!dir) return {};
  const path = join(dir, 'postjoin-linux-x64');
  if (!existsSync(path)) return { note: `--baseline ${dir} has no postjoin-linux-x64; its rows are skipped` };
  try {
    const m = JSON.parse(readFileSync(join(dir, 'sea-manifest.json'), 'utf8')) as { arches: Record<string, { node?: string }> };
    const node = m.arches.x64?.node;
    if (node && node !== embeddedNodeVersion()) return { path, note: `the baseline embeds Node ${node}, today's ${embeddedNodeVersion()}` };
  } catch {
    // no manifest beside it: measured all the same
  }
  return { path };
}

/**
 * Drops the files' pages from the page cache (posix_fadvise DONTNEED, through GNU dd), so that every
 * executable compared starts from the same state. A file written a moment ago (a fresh build) is wholly in
 * the cache, and the kernel then maps its neighbouring pages at each fault ("fault-around"): that alone
 * made a fresh copy of the very same executable show 17 MB more peak RSS than one run many times before.
 */
export function evictFromPageCache(files: (string | undefined)[]): void {
  for (const f of files) {
    if (!f || !existsSync(f)) continue;
    try {
      execFileSync('dd', [`if=${f}`, 'iflag=nocache', 'count=0', 'status=none']);
    } catch {
      // not fatal: the figures are then only less comparable
    }
  }
}
