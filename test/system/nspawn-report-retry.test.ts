// A report the run could not make, under a real systemd (252, in systemd-nspawn) with the shipped units: the API
// server is down when postjoin.service finishes at boot. postjoin.service is still `active (exited)` and boot
// completes; postjoin-report.service tries again with growing waits (its journal says so); the API server comes
// up in the container's network namespace and the report reaches the Node without anyone touching the node, and
// the report unit ends. Then, the server gone for good, `systemctl restart postjoin` runs again and the report
// unit gives up after its bound (a drop-in shortens it) and shows failed; restarting postjoin while the report unit
// retries stops it first, so the run never meets its lock.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { kubeconfigText } from '../emulators/kube-kubeconfig.js';
import { defaultRootfs, rootfsReady, type Container } from '../harness/nspawn.js';
import { removeDir, tempDir, waitFor } from '../harness/proc.js';
import { requireReal, requireRootAndBins } from '../harness/require-real.js';
import { bundleProgram, mainOf } from '../helpers/bundle.js';
import { makeKubePki } from '../helpers/kube-pki.js';
import { bootNode, journalEntries, nodeConfig } from '../helpers/nspawn-node.js';

const NODE = 'ip-10-0-9-31.us-west-2.compute.internal';
const PORT = 6443;
const H = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n';
const dropIn = (bound: string) => `[Service]\nExecStart=\nExecStart=/usr/bin/postjoin report --retry-for ${bound} --retry-delay 1s\n`;
const DROP_IN = '/etc/systemd/system/postjoin-report.service.d/10-test.conf';

/** The report unit's log lines (pino JSON in the journal), with the journal's priority. */
async function reportLog(c: Container): Promise<{ msg: string; priority: string; next_try_ms?: number }[]> {
  return (await journalEntries(c, ['-u', 'postjoin-report.service'])).flatMap((e) => {
    try {
      const line = JSON.parse(String(e.MESSAGE)) as { msg: string; next_try_ms?: number };
      return [{ ...line, priority: String(e.PRIORITY) }];
    } catch {
      return [];
    }
  });
}

async function show(c: Container, unit: string): Promise<Record<string, string>> {
  const out = (await c.systemctl('show', unit, '-p', 'ActiveState', '-p', 'SubState', '-p', 'Result', '-p', 'StatusText')).stdout;
  return Object.fromEntries(out.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

t.test('the API server down at the end of the boot run: postjoin-report.service delivers the result once it is back, and gives up after its bound', async (t) => {
  if (!(await requireRootAndBins(t, { 'systemd-nspawn': 'systemd-container', nsenter: 'util-linux', containerd: 'containerd', runc: 'runc', kubectl: 'kubectl', openssl: 'openssl' }))) return;
  if (!(await requireReal(t, `rootfs at ${defaultRootfs}`, () => rootfsReady(), 'sudo scripts/ensure-rootfs.sh (about 2 min, once)'))) return;
  const work = await tempDir('reportretry');
  const kdir = join(work, 'kubernetes');
  await mkdir(kdir);
  t.teardown(() => removeDir(work));
  const standin = await bundleProgram(mainOf('test/helpers/kube-standin-process.ts'), join(work, 'standin.cjs'));

  // The node's kubeconfig exists before the API server does, as on a node whose control plane is away: a client
  // certificate (inline) from a CA the stand-in started later will use, and a port nothing listens on yet.
  const pki = makeKubePki(kdir);
  const cert = pki.clientCert(`system:node:${NODE}`, ['system:nodes']);
  const user = { 'client-certificate-data': Buffer.from(cert.certPem).toString('base64'), 'client-key-data': Buffer.from(cert.keyPem).toString('base64') };
  await writeFile(join(kdir, 'node.kubeconfig'), kubeconfigText(`https://127.0.0.1:${PORT}`, pki, true, user), { mode: 0o600 });

  const config = `${nodeConfig()}kubernetes: { kubeconfig: /etc/kubernetes/node.kubeconfig, nodeName: ${NODE}, timeout: 2s }\n`;
  const c = await bootNode({
    stateDir: join(work, 'state'),
    containerdLib: join(work, 'ctdlib'),
    tasks: { '10-node.yaml': `${H}  - { name: a, exec: { command: /bin/true } }\n` },
    config,
    install: 'wrapper',
    kubeletHealthyAfterMs: 1000,
    units: { 'postjoin-report.service.d/10-test.conf': dropIn('2m') },
    binds: [{ host: kdir, container: '/etc/kubernetes', ro: true }],
  });
  t.teardown(() => c.stop());
  t.comment(`booted in ${c.bootMs} ms, postjoin.service included`);

  // Boot is over (bootNode waited for running/degraded) and postjoin.service is done, its report pending.
  t.match(await show(c, 'postjoin.service'), { ActiveState: 'active', SubState: 'exited', Result: 'success' }, 'postjoin.service: active (exited), not activating');
  t.equal((await c.systemctl('is-system-running')).stdout.trim(), 'running', 'boot completed: no job waits, nothing failed');
  t.equal((await c.systemctl('list-jobs', '--no-legend')).stdout.trim(), '', 'no job queued: the report unit holds none');
  t.match(await show(c, 'postjoin-report.service'), { ActiveState: 'active', SubState: 'running' }, 'the report unit runs beside the booted node');
  const pending = await c.exec(['postjoin', 'status']);
  t.match(pending.stdout, /^report: +pending since \S+: postjoin\.io\/Ready=True\/Succeeded on Node /m, 'postjoin status says pending');

  // Its journal: each failed try, and a wait that grows.
  await waitFor('two failed tries of the report unit', async () => (await reportLog(c)).filter((l) => l.msg.startsWith('could not report')).length >= 2, { timeoutMs: 60_000 });
  // Between two tries, `systemctl status` shows the pending report and the next try (the status follows the log line).
  const pendingStatus = /^pending since \S+: try \d+ failed; next try in \S+, giving up at \S+$/;
  await waitFor('the pending status line', async () => pendingStatus.test((await show(c, 'postjoin-report.service')).StatusText ?? ''), { timeoutMs: 30_000 });
  t.pass('systemctl status shows the pending try');

  // The API server comes up (in the container's network namespace, where the kubeconfig points); nobody touches the node.
  const api = await c.spawnInNetns([process.execPath, standin, kdir, NODE, '--port', String(PORT)], join(work, 'standin.log'));
  t.teardown(() => api.stop());
  await waitFor('the stand-in to be up', async () => (await readFile(join(kdir, 'url'), 'utf8').catch(() => '')) !== '', {
    timeoutMs: 30_000,
    detail: async () => readFile(join(work, 'standin.log'), 'utf8').catch(() => ''),
  });
  await waitFor('postjoin-report.service to end', async () => (await show(c, 'postjoin-report.service')).ActiveState === 'inactive', { timeoutMs: 90_000 });
  t.match(await show(c, 'postjoin-report.service'), { ActiveState: 'inactive', Result: 'success' }, 'the report unit ended, successfully');

  const log = await reportLog(c);
  const failed = log.filter((l) => l.msg.startsWith('could not report'));
  t.ok(failed.length >= 2, `${failed.length} failed tries`);
  for (const l of failed) {
    t.equal(l.priority, '4', 'a failed try is a warning');
    t.match(l.msg, /^could not report to Node \S+ \(try \d+, pending since \S+\): .*; next try in \S+ \(giving up at \S+\)$/);
  }
  t.ok(failed[1]!.next_try_ms! > failed[0]!.next_try_ms! / 2, `the waits: ${failed.map((l) => l.next_try_ms).join(', ')} ms`);
  t.match(log.at(-1), { priority: '6', msg: new RegExp(`^reported postjoin\\.io/Ready=True/Succeeded, label postjoin\\.io/result=succeeded, event PostjoinSucceeded to Node ${NODE.replace(/\./g, '\\.')} \\(try \\d+, pending since `) });

  // The real kubectl reads the Node, as the stand-in's admin.
  const home = join(work, 'home');
  await mkdir(home, { recursive: true });
  const kubectl = async (...args: string[]) => {
    const r = await c.netExec(['kubectl', '--kubeconfig', join(kdir, 'admin.kubeconfig'), ...args], { env: { HOME: home, KUBECONFIG: join(kdir, 'admin.kubeconfig') } });
    t.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const node = JSON.parse(await kubectl('get', 'node', NODE, '-o', 'json'));
  t.match(node.status.conditions.filter((x: { type: string }) => x.type === 'postjoin.io/Ready'), [{ status: 'True', reason: 'Succeeded', message: 'all tasks done: 1 succeeded' }]);
  t.equal(node.metadata.labels['postjoin.io/result'], 'succeeded');
  t.match(await kubectl('describe', 'node', NODE), /Normal\s+PostjoinSucceeded\s+\S+\s+postjoin\.io\/postjoin\s+all tasks done: 1 succeeded/);
  t.match((await c.exec(['postjoin', 'status'])).stdout, /^report: +made at \S+: postjoin\.io\/Ready=True\/Succeeded on Node \S+ \(try \d+, pending since \S+\)$/m);
  const capture = process.env.POSTJOIN_CAPTURE_DIR;
  if (capture) {
    await writeFile(join(capture, 'report-retry-journal.txt'), (await c.journal('postjoin-report.service')).trimEnd());
    await writeFile(join(capture, 'report-retry-status.txt'), (await c.exec(['postjoin', 'status'])).stdout);
  }

  // The server gone for good, and a bound of 8 s: `systemctl restart postjoin` runs again, reports nothing, and
  // the report unit, restarted after it, gives up and fails.
  await api.stop();
  await c.exec(['sh', '-c', `cat > ${DROP_IN}`], { input: dropIn('8s') });
  await c.systemctl('daemon-reload');
  const triesBefore = (await reportLog(c)).filter((l) => l.msg.startsWith('could not report')).length;
  const restart = await c.systemctl('restart', 'postjoin.service');
  t.equal(restart.code, 0, `systemctl restart postjoin: ${restart.stderr}`);
  t.match(await show(c, 'postjoin.service'), { ActiveState: 'active', SubState: 'exited', Result: 'success' });
  await waitFor('the restart to start the report unit again, after the run, and a try of it to fail', async () => (await reportLog(c)).filter((l) => l.msg.startsWith('could not report')).length > triesBefore, { timeoutMs: 30_000 });
  // Restarted again while the report unit retries: PartOf= stops it first (SIGTERM, the outcome stays pending), so
  // the run never meets its lock, and it starts again after the run.
  const again = await c.systemctl('restart', 'postjoin.service');
  t.equal(again.code, 0, `systemctl restart postjoin while postjoin-report retries: ${again.stderr}`);
  t.match(await show(c, 'postjoin.service'), { ActiveState: 'active', SubState: 'exited', Result: 'success' }, 'the run was not refused');
  t.ok((await reportLog(c)).some((l) => /^stopped by SIGTERM: the report to Node \S+ stays pending in state\.json/.test(l.msg)), 'the report unit was stopped by the restart');
  await waitFor('postjoin-report.service to give up', async () => (await show(c, 'postjoin-report.service')).ActiveState === 'failed', { timeoutMs: 60_000 });
  t.match(await show(c, 'postjoin-report.service'), { ActiveState: 'failed', Result: 'exit-code' });
  t.match((await c.systemctl('--failed', '--no-legend', '--plain')).stdout, /^postjoin-report\.service\s+loaded\s+failed\s+failed/m, 'systemctl --failed lists it');
  const errors = (await reportLog(c)).filter((l) => l.priority === '3');
  t.match(errors, [{ msg: /^gave up after 8s: the report to Node \S+ is still pending in state\.json after \d+ tries \(the last: .*(connection refused|kubernetes\.timeout)/ }], 'one error line, for journalctl -p err');
  t.match((await c.exec(['postjoin', 'status'])).stdout, /^report: +pending since \S+: postjoin\.io\/Ready=True\/Succeeded/m);
  if (capture) {
    await writeFile(join(capture, 'report-giveup-status.txt'), (await c.systemctl('status', '--no-pager', '--lines=6', 'postjoin-report.service')).stdout);
  }
});
