// The simulated node of `npm start` (scripts/demo.mjs), bundled by scripts/build-demo.mjs into dist/demo-world.cjs
// and forked by the demo with an IPC channel. Everything on 127.0.0.1, nothing but Node needed:
// - the IMDSv2 emulator serving examples/demo/userdata.mime (a NodeConfig and a postjoin part) and the instance
//   tags of examples/demo/tags.json;
// - a kubelet whose /healthz answers 503 until one second after it is first asked on each boot;
// - the Kubernetes API stand-in (its CA and server certificate made in pure Node) holding this node's Node, as
//   the kubelet registered it with the recipe's startup taint, and the node's kubeconfig with an exec plugin
//   (a shell script printing an ExecCredential, as `aws eks get-token` does on AL2023);
// - a simulated node-readiness-controller (test/emulators/readiness-controller.ts) that removes the startup taint once
//   postjoin.io/Ready is True, as the recipe's bootstrap-only rule does.
// Messages: {type:'boot', apiDownAtFinal?} -> {type:'booted'}; {type:'node'} -> {type:'node', node, events, controller};
// {type:'api-up'} -> {type:'api-up'}; {type:'stop'}.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startImdsServer } from './imds-server.js';
import { startKubeApiServer } from './kube-apiserver.js';
import { kubeconfigText } from './kube-kubeconfig.js';
import { startKubeletStub } from './kubelet-healthz.js';
import { startSimulatedReadinessController, type ControllerAction } from './readiness-controller.js';

export const DEMO_NODE = 'ip-10-0-1-23.us-west-2.compute.internal';

export interface DemoWorld {
  imds: string;
  kubeletHealthz: string;
  apiServer: string;
  kubeconfig: string;
  node: string;
}

export interface DemoWorldControl {
  world: DemoWorld;
  /** A boot; with `apiDownAtFinal` the API server goes away when postjoin starts its final report (its second read of the Node). */
  boot(opts?: { apiDownAtFinal?: boolean }): void;
  /** The API server listens again, on the same port. */
  apiUp(): Promise<void>;
  node(): Promise<unknown>;
  events(): unknown[];
  controllerActions: readonly ControllerAction[];
  stop(): Promise<void>;
}

export async function startDemoWorld(dir: string, examples: string): Promise<DemoWorldControl> {
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
  const controller = startSimulatedReadinessController(api, DEMO_NODE, { uid: '5f0c1d2e-7a4b-4c3d-9e8f-0a1b2c3d4e5f', condition: 'postjoin.io/Ready', taintKey: 'readiness.k8s.io/postjoin' });

  // A boot: the kubelet starts over, and turns healthy a second after it is first asked.
  let timer: NodeJS.Timeout | undefined;
  let watch: NodeJS.Timeout | undefined;
  const boot = (opts: { apiDownAtFinal?: boolean } = {}) => {
    if (opts.apiDownAtFinal) {
      // Keyed on the order of the node's own requests, not on time: its Running report reads the Node first, the
      // final report reads it second. That read is answered 503, and the port closes behind it.
      let reads = 0;
      api.failWhere((r) => {
        const mine = (r as { user?: string }).user === `system:node:${DEMO_NODE}` && r.method === 'GET';
        if (!mine || ++reads < 2) return false;
        void api.mode('closed');
        return true;
      }, 503);
    }
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
    apiUp: () => api.mode('ok'),
    async node() {
      await controller.reconcile();
      return api.node(DEMO_NODE);
    },
    controllerActions: controller.actions,
    events: () => api.events().filter((e) => e.regarding?.name === DEMO_NODE),
    async stop() {
      clearTimeout(timer);
      clearInterval(watch);
      controller.stop();
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
  process.on('message', (m: { type: string; apiDownAtFinal?: boolean }) => {
    if (m.type === 'boot') {
      w.boot({ apiDownAtFinal: m.apiDownAtFinal === true });
      send({ type: 'booted' });
    } else if (m.type === 'api-up') void w.apiUp().then(() => send({ type: 'api-up' }));
    else if (m.type === 'node') void w.node().then((node) => send({ type: 'node', node, events: w.events(), controller: w.controllerActions }));
    else if (m.type === 'stop') void w.stop().finally(() => process.exit(0));
  });
  process.on('disconnect', () => void w.stop().finally(() => process.exit(0)));
  send({ type: 'ready', ...w.world });
}
