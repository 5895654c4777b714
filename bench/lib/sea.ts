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
