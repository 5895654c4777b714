// Records which bundled modules a run of the bundle initialises, to prove that heavy dependencies (the EC2 and
// ECR clients, gRPC) load only on the paths that need them. esbuild's lazy __esm/__commonJS wrappers call
// Object.getOwnPropertyNames on {"<module path>"() {...}} exactly when a module first runs; the bundle
// captures that function at startup, so a --require preload can watch it.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PRELOAD = `const names = Object.getOwnPropertyNames, seen = new Set();
Object.getOwnPropertyNames = function (o) {
  const r = names(o);
  if (r.length === 1 && /^(src|node_modules)\\/.*\\.[cm]?[jt]s$/.test(r[0])) seen.add(r[0]);
  return r;
};
process.on('exit', () => require('fs').writeFileSync(process.env.PJ_INIT_LOG, [...seen].join('\\n')));
`;

export interface InitWatch {
  /** The environment for one run of the bundle. */
  env: NodeJS.ProcessEnv;
  /** After that run: whether a module whose path contains `part` was initialised. */
  loaded(): Promise<(part: string) => boolean>;
}

/** Writes the preload into dir; each call of the returned function watches one run. */
export async function moduleInitWatcher(dir: string): Promise<() => InitWatch> {
  const preload = join(dir, 'init-log.cjs');
  await writeFile(preload, PRELOAD);
  let n = 0;
  return () => {
    const log = join(dir, `init-${n++}.log`);
    return {
      env: { NODE_OPTIONS: `--require ${preload}`, PJ_INIT_LOG: log },
      async loaded() {
        const inits = (await readFile(log, 'utf8')).split('\n');
        return (part: string) => inits.some((m) => m.includes(part));
      },
    };
  };
}
