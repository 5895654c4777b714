// Bundles the agent into one file, dist/postjoin.cjs, with no runtime require of node_modules, and writes
// the task document's JSON Schema beside it.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outfile = join(root, 'dist/postjoin.cjs');

/** dbus-next's optional natives: resolved to a stub that throws, so dbus-next takes its own fallback. */
const optionalNative = {
  name: 'optional-native',
  setup(b) {
    b.onResolve({ filter: /^(x11|usocket)$/ }, () => ({ path: join(root, 'src/stubs/optional-native.cjs') }));
  },
};

/**
 * zod ships ~50 message locales (about 400 KB) that every `import { z }` drags in; postjoin speaks English.
 * Only the English one is kept, which roughly halves the bundle and its parse time.
 */
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => ({
      contents: 'export { default as en } from "./en.js";',
      loader: 'js',
      resolveDir: join(root, 'node_modules/zod/v4/locales'),
    }));
  },
};

export const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The AWS SDK's ESM build tree-shakes far better than its CJS one.
  mainFields: ['module', 'main'],
  plugins: [optionalNative, zodEnglishOnly],
  define: { __POSTJOIN_VERSION__: JSON.stringify(pkg.version) },
  logLevel: 'warning',
  legalComments: 'none',
};

mkdirSync(join(root, 'dist'), { recursive: true });
await build({
  ...common,
  entryPoints: [join(root, 'src/main.ts')],
  outfile,
  banner: { js: '#!/usr/bin/env node' },
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: false,
});
chmodSync(outfile, 0o755);

// The schema comes from the same zod definitions the agent validates with.
const schemaEntry = join(root, 'dist/.emit-schema.cjs');
await build({
  ...common,
  stdin: {
    contents: "import { taskDocumentJsonSchema } from './src/plan/json-schema.ts'; process.stdout.write(JSON.stringify(taskDocumentJsonSchema(), null, 2) + '\\n');",
    resolveDir: root,
    loader: 'ts',
  },
  outfile: schemaEntry,
});
writeFileSync(join(root, 'dist/postjoin-tasks.schema.json'), execFileSync(process.execPath, [schemaEntry]));
rmSync(schemaEntry);
