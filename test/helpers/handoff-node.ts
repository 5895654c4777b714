// A node for `postjoin run` with cluster reporting on, as the unit runs it (the real bundle): a tasks dir, a
// kubelet healthz stand-in for the readiness gate, and the node's kubeconfig for the Kubernetes API stand-in with
// an exec credential plugin (a small script printing an ExecCredential, as `aws eks get-token` does on AL2023).
import { rename, writeFile } from 'node:fs/promises';
import type { Test } from 'tap';
import type { KubeStandIn } from '../emulators/kube-apiserver.js';
import { startKubeletStub, type KubeletStub } from '../emulators/kubelet-healthz.js';
import { logLines, runCli, workspace, type CliResult } from './cli.js';
import { execPlugin } from './exec-plugins.js';

export const STARTUP_TAINT = { key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' };
export const CLUSTER = 'test-cluster';

export interface HandoffNode {
  node: string;
  dir: string;
  tasksDir: string;
  stateDir: string;
  configPath: string;
  kubeconfig: string;
  kubelet: KubeletStub;
  /** Rewrites config.yaml; `kubernetes` and `readiness` are the flow-style maps' insides. */
  configure(o?: ConfigOptions): Promise<void>;
  task(name: string, body: string): Promise<string>;
  run(o?: { env?: NodeJS.ProcessEnv; onSpawn?: (pid: number) => void; timeoutMs?: number }): Promise<CliResult>;
  status(json?: boolean): Promise<CliResult>;
}

export interface ConfigOptions {
  /** Extra keys of the kubernetes block, e.g. "timeout: 3s". */
  kubernetes?: string;
  /** The readiness block's keys after kubeletHealthz, e.g. "timeout: 1s". */
  readiness?: string;
  /** Replaces `sources: [file]` and `imds: { enabled: false }`. */
  more?: string;
}

let n = 0;

/** A registered Node (kubelet-like, with the startup taint) and a node dir whose config reports to it. */
export async function handoffNode(t: Test, api: KubeStandIn, o: ConfigOptions & { register?: boolean } = {}): Promise<HandoffNode> {
  const ws = await workspace();
  const node = `ip-10-0-7-${++n}.us-west-2.compute.internal`;
  if (o.register !== false) api.addNode(node, { taints: [STARTUP_TAINT] });
  const plugin = await execPlugin({ kind: 'token', token: api.tokenFor(node) }, ws.dir);
  const kubeconfig = await api.writeKubeconfig({
    user: 'exec',
    nodeName: node,
    dir: ws.dir,
    exec: { command: plugin.command, args: ['eks', 'get-token', '--cluster-name', CLUSTER, '--region', 'us-west-2'] },
  });
  const kubelet = await startKubeletStub();
  kubelet.setHealthy(true);
  t.teardown(() => kubelet.close());
  const h: HandoffNode = {
    node,
    dir: ws.dir,
    tasksDir: ws.tasksDir,
    stateDir: ws.stateDir,
    configPath: ws.configPath,
    kubeconfig,
    kubelet,
    async configure(c = o) {
      await writeFile(
        ws.configPath,
        [
          c.more ?? 'sources: [file]\nimds: { enabled: false }',
          `tasksDir: ${ws.tasksDir}`,
          `readiness: { units: [], containerd: false, kubeletHealthz: "${kubelet.url}"${c.readiness ? `, ${c.readiness}` : ''} }`,
          `kubernetes: { kubeconfig: ${kubeconfig}, nodeName: ${node}${c.kubernetes ? `, ${c.kubernetes}` : ''} }`,
          '',
        ].join('\n'),
      );
    },
    task: ws.task,
    run: (r = {}) => runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { timeoutMs: 120_000, ...r }),
    status: (json = false) => runCli(['status', '--state-dir', ws.stateDir, ...(json ? ['--output', 'json'] : [])]),
  };
  await h.configure(o);
  return h;
}

/** The postjoin condition(s) on the Node. */
export const oursOn = (api: KubeStandIn, node: string): any[] => (api.node(node)?.status.conditions ?? []).filter((c: { type: string }) => c.type === 'postjoin.io/Ready');
export const kubeletConditions = (api: KubeStandIn, node: string): any[] => (api.node(node)?.status.conditions ?? []).filter((c: { type: string }) => c.type !== 'postjoin.io/Ready');
export const eventsOn = (api: KubeStandIn, node: string): any[] => api.events().filter((e) => e.regarding?.name === node);
/** Every request this node's identity sent. */
export const requestsOf = (api: KubeStandIn, node: string) => api.requests.filter((r) => r.user === `system:node:${node}` || r.path.includes(`/nodes/${node}`));

/** The run's journal lines (pino JSON on stdout). */
export const journal = (r: CliResult) => logLines(r.stdout);
export const warnings = (r: CliResult) => journal(r).filter((l) => l.level === 'warn').map((l) => String(l.msg));
/** Lines about the report to the Node (reported / could not report). */
export const reportLines = (r: CliResult) => journal(r).filter((l) => /report(ed)? .*(to )?Node /.test(String(l.msg)));

/**
 * A kubelet that bootstraps TLS (Outposts, --bootstrap-kubeconfig): its kubeconfig is not there when the run
 * starts, and appears once its CSR is approved, before its healthz answers ok. Starts `h.run()` with the kubeconfig
 * away and the kubelet unhealthy, and waits until the run is polling the kubelet; `writeKubeconfig()` then puts the
 * kubeconfig in place and turns the kubelet healthy, and the run goes on.
 */
export async function runWithLateKubeconfig(h: HandoffNode): Promise<{ running: Promise<CliResult>; writeKubeconfig(): Promise<void> }> {
  const later = `${h.kubeconfig}.later`;
  await rename(h.kubeconfig, later);
  h.kubelet.setHealthy(false);
  let done = false;
  const running = h.run().finally(() => (done = true));
  while (!done && h.kubelet.polls < 3) await new Promise((r) => setTimeout(r, 10));
  return {
    running,
    async writeKubeconfig() {
      await rename(later, h.kubeconfig);
      h.kubelet.setHealthy(true);
    },
  };
}
