// Bundles a small TypeScript program (given as its source text, importing from the repo) into one .cjs that plain
// Node runs: a program that uses src/ as run.ts does, a stand-in to start in a container. The options are the
// product bundle's own (esbuild.config.mjs), except that dbus-next's optional natives are left out.
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT } from './cli.js';

/** `resolveDir`: where the program's relative imports start (the repo by default, or a copy of it elsewhere). */
export async function bundleProgram(contents: string, outfile: string, opts: { resolveDir?: string } = {}): Promise<string> {
  await build({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    // dbus-next requires these only on X11 and abstract-socket paths postjoin never takes.
    external: ['x11', 'usocket'],
    // A copy of src/ outside the repo still finds the repo's packages.
    nodePaths: [join(ROOT, 'node_modules')],
    logLevel: 'warning',
    outfile,
    stdin: { resolveDir: opts.resolveDir ?? ROOT, loader: 'ts', contents },
  });
  return outfile;
}

/** A program that runs `main(argv)` of a module in the repo, as the demo and the stand-in process are started. */
export function mainOf(path: string): string {
  return `import { main } from './${path}'; main(process.argv.slice(2)).catch((e) => { console.error(e); process.exit(1); });`;
}
