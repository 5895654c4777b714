// Cluster handoff under a real systemd (252, in systemd-nspawn): the shipped unit runs postjoin, which finds its
// Node's name in nodeadm's /etc/eks/kubelet/environment, takes its credential from the kubeconfig's exec plugin and
// reports to the Kubernetes API stand-in running in the container's own network namespace (127.0.0.1 there; the
// PKI made on the host). The real kubectl then reads the Node: postjoin.io/Ready=True, the label, the event.
//
// postjoin.service is installed but not enabled: the stand-in can only be started in the container's network
// namespace once the container is up, so the test starts the unit with `systemctl start` (the order after
// nodeadm-run at boot is test/system/nspawn.test.ts's).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { defaultRootfs, rootfsReady } from '../harness/nspawn.js';
import { removeDir, tempDir, waitFor } from '../harness/proc.js';
import { requireReal, requireRootAndBins } from '../harness/require-real.js';
import { bundleProgram, mainOf } from '../helpers/bundle.js';
import { PLUGIN_ARGS } from '../helpers/kube-standin-process.js';
import { bootNode, journalEntries, nodeConfig } from '../helpers/nspawn-node.js';

const NODE = 'ip-10-0-9-17.us-west-2.compute.internal';
const H = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n';

async function standinBundle(dir: string): Promise<string> {
  return bundleProgram(mainOf('test/helpers/kube-standin-process.ts'), join(dir, 'standin.cjs'));
}

t.test('the unit under systemd reports to its Node: postjoin.io/Ready=True, label, event; the tasks get the node context', async (t) => {
  if (!(await requireRootAndBins(t, { 'systemd-nspawn': 'systemd-container', nsenter: 'util-linux', containerd: 'containerd', runc: 'runc', kubectl: 'kubectl' }))) return;
  if (!(await requireReal(t, `rootfs at ${defaultRootfs}`, () => rootfsReady(), 'sudo scripts/ensure-rootfs.sh (about 2 min, once)'))) return;
  const work = await tempDir('handoff');
  const kdir = join(work, 'kubernetes');
  await mkdir(kdir);
  t.teardown(() => removeDir(work));
  const standin = await standinBundle(work);

  const config = `${nodeConfig()}kubernetes: { kubeconfig: /etc/kubernetes/kubeconfig, timeout: 30s }\n`;
  const tasks = `${H}  - { name: context, exec: { command: /bin/sh, args: [-c, "echo $POSTJOIN_NODE_NAME $POSTJOIN_CLUSTER_NAME $POSTJOIN_TASK > /var/lib/postjoin/context"] } }\n`;
  const c = await bootNode({
    stateDir: join(work, 'state'),
    containerdLib: join(work, 'ctdlib'),
    tasks: { '10-node.yaml': tasks },
    config,
    install: 'wrapper',
    enablePostjoin: false,
    kubeletHealthyAfterMs: 1000,
    // What nodeadm writes: the kubelet's flags, the node name among them.
    files: { '/etc/eks/kubelet/environment': `NODEADM_KUBELET_ARGS=--node-ip=10.0.9.17 --hostname-override=${NODE} --v=2\n` },
    binds: [{ host: kdir, container: '/etc/kubernetes', ro: true }],
  });
  t.teardown(() => c.stop());

  // The stand-in in the container's network namespace (a host process writing host files, its PKI among them).
  const api = await c.spawnInNetns([process.execPath, standin, kdir, NODE, '/etc/kubernetes/get-token'], join(work, 'standin.log'));
  t.teardown(() => api.stop());
  await waitFor('the stand-in to be up', async () => (await readFile(join(kdir, 'url'), 'utf8').catch(() => '')) !== '', {
    timeoutMs: 30_000,
    detail: async () => readFile(join(work, 'standin.log'), 'utf8').catch(() => ''),
  });

  const start = await c.systemctl('start', 'postjoin.service');
  t.equal(start.code, 0, `systemctl start postjoin: ${start.stderr}`);
  const show = (await c.systemctl('show', 'postjoin.service', '-p', 'Result', '-p', 'StatusText')).stdout;
  t.match(show, /Result=success/);
  t.match(show, /StatusText=done: all tasks succeeded/);

  // The real kubectl reads the Node, run in the container's network namespace with the stand-in's admin identity.
  const home = join(work, 'home');
  await mkdir(home);
  const kubectl = async (...args: string[]) => {
    const r = await c.netExec(['kubectl', '--kubeconfig', join(kdir, 'admin.kubeconfig'), ...args], { env: { HOME: home, KUBECONFIG: join(kdir, 'admin.kubeconfig') } });
    t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const node = JSON.parse(await kubectl('get', 'node', NODE, '-o', 'json'));
  const conditions = node.status.conditions as { type: string; status: string; reason: string; message: string }[];
  t.match(conditions.filter((x) => x.type === 'postjoin.io/Ready'), [{ status: 'True', reason: 'Succeeded', message: 'all tasks done: 1 succeeded' }]);
  t.same(conditions.map((x) => x.type).filter((x) => x !== 'postjoin.io/Ready').sort(), ['DiskPressure', 'MemoryPressure', 'PIDPressure', 'Ready'], "the kubelet's conditions survive");
  t.equal(node.metadata.labels['postjoin.io/result'], 'succeeded');
  t.match(node.spec.taints, [{ key: 'readiness.k8s.io/postjoin' }], 'the startup taint is left to node-readiness-controller');
  t.match(await kubectl('get', 'nodes', '-l', 'postjoin.io/result=succeeded', '-o', 'name'), new RegExp(`^node/${NODE.replace(/\./g, '\\.')}$`, 'm'));
  t.match(await kubectl('describe', 'node', NODE), /Normal\s+PostjoinSucceeded\s+\S+\s+postjoin\.io\/postjoin\s+all tasks done: 1 succeeded/);

  const requests = JSON.parse(await readFile(join(kdir, 'requests.json'), 'utf8')) as { method: string; path: string; contentType?: string; user?: string; body?: unknown }[];
  const mine = requests.filter((r) => r.user === `system:node:${NODE}`);
  t.ok(mine.length >= 5, `the node's identity (from the exec plugin) made the requests (${mine.length})`);
  for (const w of mine.filter((r) => r.method === 'PATCH')) {
    t.equal(w.contentType, 'application/strategic-merge-patch+json', `${w.path}: strategic merge`);
    t.notMatch(JSON.stringify(w.body), /taints/);
  }

  const cluster = PLUGIN_ARGS[PLUGIN_ARGS.indexOf('--cluster-name') + 1];
  t.equal((await readFile(join(work, 'state', 'context'), 'utf8')).trim(), `${NODE} ${cluster} context`, 'the task saw its node name, the cluster name, its own name');
  const journal = (await journalEntries(c, ['-u', 'postjoin.service'])).map((e) => String(e.MESSAGE));
  t.ok(journal.some((m) => m.includes('reported postjoin.io/Ready=False/Running to Node')), 'Running was reported');
  t.ok(journal.some((m) => m.includes(`reported postjoin.io/Ready=True/Succeeded to Node ${NODE}`)), 'the result was reported');
  const status = await c.exec(['postjoin', 'status']);
  t.match(status.stdout, new RegExp(`^report: +made at \\S+: postjoin\\.io/Ready=True/Succeeded on Node ${NODE.replace(/\./g, '\\.')}$`, 'm'));
  if (process.env.POSTJOIN_CAPTURE_DIR) await writeFile(join(process.env.POSTJOIN_CAPTURE_DIR, 'nspawn-handoff-journal.txt'), journal.join('\n'));
});
