// The Kubernetes API stand-in as a process of its own, for a node that is not this test process: bundled by
// esbuild into a .cjs (test/system/nspawn-handoff.test.ts) and started, e.g., in a container's network namespace. It writes into
// `dir` (which the node can see, e.g. bound at /etc/kubernetes):
//   kubeconfig        the node's, CA inline, user an exec plugin `<pluginPath>` (as AL2023's `aws eks get-token`)
//   get-token         that plugin: a shell script printing an ExecCredential with the node's token
//   admin.kubeconfig  a system:masters user, for the real kubectl in the test
//   requests.json     every request so far, rewritten as they come
//   url               last, once all of the above is in place
// Usage: node standin.cjs <dir> <node name> [<pluginPath as the node sees it>] [--port N]
// With --port, it listens there and uses the PKI already in <dir> (kube-pki.ts makeKubePki, run by the test before):
// a server that comes back where the node's kubeconfig, written before it was up, points.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startKubeApiServer } from '../emulators/kube-apiserver.js';
import { kubeconfigText } from '../emulators/kube-kubeconfig.js';
import { loadKubePki } from './kube-pki.js';

export const PLUGIN_ARGS = ['eks', 'get-token', '--cluster-name', 'standin-cluster', '--region', 'us-west-2'];

export async function main(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { port: { type: 'string' } } });
  const [dir, node, pluginPath] = positionals;
  if (!dir || !node) throw new Error('usage: standin <dir> <node name> [<plugin path>] [--port N]');
  const port = values.port === undefined ? undefined : Number(values.port);
  const api = await startKubeApiServer({ dir, ...(port !== undefined ? { port, pki: loadKubePki } : {}) });
  api.addNode(node, { taints: [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }] });
  const credential = { apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: api.tokenFor(node) } };
  writeFileSync(join(dir, 'get-token'), `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify(credential)}\nEOF\n`, { mode: 0o755 });
  const exec = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: pluginPath ?? join(dir, 'get-token'), args: PLUGIN_ARGS };
  writeFileSync(join(dir, 'kubeconfig'), kubeconfigText(api.url, api, true, { exec }), { mode: 0o600 });
  writeFileSync(join(dir, 'admin.kubeconfig'), kubeconfigText(api.url, api, true, { token: api.adminToken }), { mode: 0o600 });
  let written = -1;
  const dump = () => {
    if (api.requests.length === written) return;
    written = api.requests.length;
    writeFileSync(join(dir, 'requests.json'), JSON.stringify(api.requests));
  };
  dump();
  setInterval(dump, 50);
  writeFileSync(join(dir, 'url'), api.url);
  process.on('SIGTERM', () => {
    dump();
    void api.stop().finally(() => process.exit(0));
  });
}
