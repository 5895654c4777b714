// Bundles the agent into one file, dist/postjoin.cjs, with no runtime require of node_modules, and writes
// the task document's JSON Schema beside it.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
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

/**
 * The EC2 client is loaded lazily (only for the DescribeInstances fallback), and esbuild cannot tree-shake a
 * lazily loaded package index's `export *`: it would keep every EC2 command (about 1.7 MB). Two fixes:
 * - `@aws-sdk/client-ec2` resolves to its client and the one command we use, by deep path into its ESM build.
 *   (The source imports the index, because unbundled, as in tests, those deep ESM paths do not load.)
 * - Its one schema file writes trait keys as computed keys (`{[_xN]: "tagSet"}`), which esbuild must treat as
 *   possibly side-effecting, so every one of EC2's ~3400 schemas was kept. They are rewritten to the string
 *   literals they name, so unused schemas drop out. 1.2 MB of schemas become about 30 KB.
 */
const ec2Slim = {
  name: 'ec2-slim',
  setup(b) {
    b.onResolve({ filter: /^@aws-sdk\/client-ec2$/ }, () => ({ path: 'client-ec2', namespace: 'ec2-slim' }));
    b.onLoad({ filter: /.*/, namespace: 'ec2-slim' }, () => ({
      contents: [
        "export { EC2Client } from '@aws-sdk/client-ec2/dist-es/EC2Client.js';",
        "export { DescribeInstancesCommand } from '@aws-sdk/client-ec2/dist-es/commands/DescribeInstancesCommand.js';",
      ].join('\n'),
      loader: 'js',
      resolveDir: root,
    }));
    b.onLoad({ filter: /[\\/]client-ec2[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, (args) => {
      const src = readFileSync(args.path, 'utf8');
      const strings = new Map([...src.matchAll(/^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm)].map((m) => [m[1], m[2]]));
      return { contents: src.replace(/\[(_\w+)\]:/g, (all, id) => (strings.has(id) ? `${strings.get(id)}:` : all)), loader: 'js' };
    });
  },
};

export const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // The AWS SDK's ESM build tree-shakes far better than its CJS one.
  mainFields: ['module', 'main'],
  plugins: [optionalNative, zodEnglishOnly, ec2Slim],
  define: { __POSTJOIN_VERSION__: JSON.stringify(pkg.version), __POSTJOIN_SEA__: 'false' },
  logLevel: 'warning',
  legalComments: 'none',
};

mkdirSync(join(root, 'dist'), { recursive: true });

/**
 * The built-in modules Node 22 cannot keep in a user startup snapshot (the ones lib/internal/main/mksnapshot.js
 * leaves out), which packaging/sea/snapshot-require.js defers while the single executable's snapshot is built.
 */
const SNAPSHOT_UNSUPPORTED = [
  ...['_http_agent', '_http_client', '_http_common', '_http_incoming', '_http_outgoing', '_http_server', '_tls_common', '_tls_wrap'],
  ...['async_hooks', 'child_process', 'cluster', 'dgram', 'dns/promises', 'domain', 'http', 'http2', 'https', 'inspector', 'module'],
  ...['perf_hooks', 'readline', 'repl', 'tls', 'trace_events', 'tty', 'vm', 'worker_threads'],
];

/**
 * The AWS SDK loads some built-ins with `await import("node:http")`, which esbuild leaves as it is. A script
 * started from a V8 startup snapshot has no dynamic import ("A dynamic import callback was not specified"),
 * so in the single executables' build such an import goes through require, as bundled imports already do.
 */
const builtinImportsAsRequire = {
  name: 'builtin-imports-as-require',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, namespace: 'builtin-import' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'builtin-import' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
  },
};

function snapshotRequire() {
  const hostRequire = createRequire(import.meta.url);
  const names = Object.fromEntries(SNAPSHOT_UNSUPPORTED.map((m) => [m, Object.getOwnPropertyNames(hostRequire(m)).filter((k) => k !== 'default')]));
  return readFileSync(join(root, 'packaging/sea/snapshot-require.js'), 'utf8')
    .replace(/^\s*\/\/.*\n/gm, '')
    .replace('UNSUPPORTED_LIST', JSON.stringify(SNAPSHOT_UNSUPPORTED))
    .replace('NAMES_BY_MODULE', JSON.stringify(names));
}

/**
 * Two builds of the same code:
 * - dist/postjoin.cjs, the bundle for hosts with Node: whitespace and syntax minified, identifiers kept. On a
 *   plain Node (no code cache) that starts faster than a fully minified one, which V8 compiles more eagerly.
 *   Its lazy `__esm({"src/x.ts"() {…}})` wrappers keep module paths as keys, which the tests use to watch
 *   which modules a command initialises.
 * - dist/postjoin.sea.cjs, the input of the single executables, fully minified (names kept for stack traces).
 *   There the code cache makes compiling cheap, and what remains is the top level: unminified, V8 builds one
 *   object literal per module at start-up, one map transition per path key (16 M of `--version`'s 175 M
 *   instructions); minified, about 17% fewer instructions.
 */
const variants = [
  { file: outfile, minifyWhitespace: true, minifySyntax: true },
  {
    file: join(root, 'dist/postjoin.sea.cjs'),
    minify: true,
    keepNames: true,
    define: { ...common.define, __POSTJOIN_SEA__: 'true' },
    plugins: [builtinImportsAsRequire, ...common.plugins],
    banner: snapshotRequire(),
  },
];
for (const { file, banner = '', ...options } of variants) {
  // Written beside the target and renamed, so nothing ever runs half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  await build({ ...common, ...options, entryPoints: [join(root, 'src/main.ts')], outfile: tmp, banner: { js: `#!/usr/bin/env node\n${banner}` } });
  chmodSync(tmp, 0o755);
  renameSync(tmp, file);
}

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
