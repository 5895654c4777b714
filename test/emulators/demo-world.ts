// The simulated node of `npm start` (scripts/demo.mjs), bundled by scripts/build-demo.mjs into dist/demo-world.cjs
// and forked by the demo with an IPC channel. Everything on 127.0.0.1, nothing but Node needed:
// - the IMDSv2 emulator serving examples/demo/userdata.mime (a NodeConfig and a postjoin part) and the instance
//   tags of examples/demo/tags.json;
// - a kubelet whose /healthz answers 503 until one second after it is first asked on each boot;
// - the Kubernetes API stand-in (its CA and server certificate made in pure Node) holding this node's Node, as
//   the kubelet registered it with the recipe's startup taint, and the node's kubeconfig with an exec plugin
//   (a shell script printing an ExecCredential, as `aws eks get-token` does on AL2023).
// Messages: {type:'boot'} -> {type:'booted'}; {type:'node'} -> {type:'node', node, events}; {type:'stop'}.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startImdsServer } from './imds-server.js';
import { startKubeApiServer } from './kube-apiserver.js';
import { kubeconfigText } from './kube-kubeconfig.js';
import { startKubeletStub } from './kubelet-healthz.js';

export const DEMO_NODE = 'ip-10-0-1-23.us-west-2.compute.internal';

export interface DemoWorld {
  imds: string;
  kubeletHealthz: string;
  apiServer: string;
  kubeconfig: string;
  node: string;
}

export async function startDemoWorld(dir: string, examples: string): Promise<{ world: DemoWorld; boot(): void; node(): unknown; events(): unknown[]; stop(): Promise<void> }> {
  const tags = JSON.parse(readFileSync(join(examples, 'tags.json'), 'utf8')) as Record<string, string>;
  const imds = await startImdsServer({ instanceId: 'i-0de0c0ffee1234567', region: 'us-west-2', userData: readFileSync(join(examples, 'userdata.mime')), tags });
  const kubelet = await startKubeletStub('[-]syncloop failed: kubelet is starting');
  const api = await startKubeApiServer({ dir });
  api.addNode(DEMO_NODE, { labels: { 'postjoin.io/handoff': 'true' }, taints: [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }] });
  const credential = { apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: api.tokenFor(DEMO_NODE) } };
  const plugin = join(dir, 'aws-eks-get-token');
  writeFileSync(plugin, `#!/bin/sh\n# demo stand-in for: aws eks get-token "$@"\ncat <<'EOF'\n${JSON.stringify(credential)}\nEOF\n`, { mode: 0o755 });
  const exec = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: plugin, args: ['eks', 'get-token', '--cluster-name', 'demo-cluster', '--region', 'us-west-2'] };
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigText(api.url, api, false, { exec }), { mode: 0o600 });

  // A boot: the kubelet starts over, and turns healthy a second after it is first asked.
  let timer: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;
  const boot = () => {
    clearTimeout(timer);
    clearInterval(watch);
    kubelet.setHealthy(false);
    const polls = kubelet.polls;
    watch = setInterval(() => {
      if (kubelet.polls === polls) return;
      clearInterval(watch);
      timer = setTimeout(() => kubelet.setHealthy(true), 1000);
    }, 10);
  };
  boot();
  return {
    world: { imds: imds.url, kubeletHealthz: kubelet.url, apiServer: api.url, kubeconfig, node: DEMO_NODE },
    boot,
    node: () => api.node(DEMO_NODE),
    events: () => api.events().filter((e) => e.regarding?.name === DEMO_NODE),
    async stop() {
      clearTimeout(timer);
      clearInterval(watch);
      await Promise.all([imds.close(), kubelet.close(), api.stop()]);
    },
  };
}

/** The forked process: argv <dir> <examples dir>; talks to the demo over IPC. */
export async function main(argv: string[]): Promise<void> {
  const [dir, examples] = argv;
  if (!dir || !examples || !process.send) throw new Error('usage: fork(demo-world.cjs, [<dir>, <examples dir>]) with an IPC channel');
  const w = await startDemoWorld(dir, examples);
  const send = (m: unknown) => process.send?.(m);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'boot') {
      w.boot();
      send({ type: 'booted' });
    } else if (m.type === 'node') send({ type: 'node', node: w.node(), events: w.events() });
    else if (m.type === 'stop') void w.stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => void w.stop().finally(() => process.exit(0)));
  send({ type: 'ready', ...w.world });
}
