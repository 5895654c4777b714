// `npm start`'s demo needs a simulated node (IMDS, a kubelet, a Kubernetes API server), which the tests already
// have as TypeScript emulators (test/emulators). This bundles them, once per build, into dist/demo-world.cjs, so the
// demo runs on plain Node: no openssl, no kubectl, no TypeScript loader.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  logLevel: 'warning',
  legalComments: 'none',
  outfile: join(root, 'dist/demo-world.cjs'),
  stdin: {
    resolveDir: root,
    loader: 'ts',
    contents: "import { main } from './test/emulators/demo-world.ts'; main(process.argv.slice(2)).catch((e) => { console.error(e); process.exit(1); });",
  },
});
