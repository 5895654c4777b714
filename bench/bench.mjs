#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --only p1,p3]`: compiles the benchmark scripts (TypeScript, like the tests)
// with esbuild into bench/out/ and runs the orchestrator, bench/run.ts. Packages stay external, so each script
// loads node_modules and the project's own src/ exactly as the tests do. Nothing here is shipped.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  .map((f) => join(root, 'bench', f));

await build({
  entryPoints: entries,
  outdir: join(root, 'bench/out'),
  bundle: true,
  splitting: false,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  // src/base/version.ts reads the version the product bundle gets from esbuild.config.mjs.
  define: { __POSTJOIN_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
  sourcemap: 'inline',
});

// The orchestrator's children are started from bench/out too; the environment carries no test-runner loaders.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS'));
const child = spawn(process.execPath, ['--enable-source-maps', join(root, 'bench/out/run.js'), ...process.argv.slice(2)], { stdio: 'inherit', env, cwd: root });
child.on('close', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
