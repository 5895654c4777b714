// The unit gets its proxy as the kubelet and containerd get theirs on an EKS node: a systemd drop-in,
// /etc/systemd/system/postjoin.service.d/http-proxy.conf, with Environment= lines (systemd services do not read
// /etc/environment). Under real systemd 252: the shipped postjoin.service, the drop-in written after boot and
// picked up by `systemctl daemon-reload`, as user data does it before postjoin starts; tinyproxy in the container's
// network namespace alone resolves the name the task waits for.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { defaultRootfs, rootfsReady } from '../harness/nspawn.js';
import { removeDir, tempDir, waitFor } from '../harness/proc.js';
import { requireReal, requireRootAndBins } from '../harness/require-real.js';
import { startTinyproxy } from '../harness/tinyproxy.js';
import { bootNode, nodeConfig } from '../helpers/nspawn-node.js';

const H = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n';
const WEB_PORT = 8089;
const DROP_IN = `[Service]
Environment="HTTP_PROXY=http://127.0.0.1:3128"
Environment="HTTPS_PROXY=http://127.0.0.1:3128"
Environment="NO_PROXY=localhost,127.0.0.1,169.254.169.254,.internal"
`;

t.test('postjoin.service takes HTTP_PROXY, HTTPS_PROXY and NO_PROXY from a drop-in, as kubelet.service does', async (t) => {
  if (!(await requireRootAndBins(t, { 'systemd-nspawn': 'systemd-container', nsenter: 'util-linux', unshare: 'util-linux', containerd: 'containerd', runc: 'runc', tinyproxy: 'tinyproxy-bin' }))) return;
  if (!(await requireReal(t, `rootfs at ${defaultRootfs}`, () => rootfsReady(), 'sudo scripts/ensure-rootfs.sh (about 2 min, once)'))) return;
  const work = await tempDir('proxyunit');
  t.teardown(() => removeDir(work));
  const task = `${H}  - { name: web, timeout: 20s, wait: { url: "http://web.proxy-only.test:${WEB_PORT}/from-the-unit", interval: 100ms } }\n`;
  const c = await bootNode({
    stateDir: join(work, 'state'),
    containerdLib: join(work, 'ctdlib'),
    tasks: { '10-web.yaml': task },
    config: `${nodeConfig('{ timeout: 2m, units: [kubelet.service], kubeletHealthz: "http://127.0.0.1:10248/healthz", containerd: false }')}kubernetes: { enabled: false }\n`,
    install: 'wrapper',
    enablePostjoin: false,
    kubeletHealthyAfterMs: 500,
  });
  t.teardown(() => c.stop());

  // The far side: a web server, and tinyproxy, the only one that knows web.proxy-only.test (its own /etc/hosts).
  const web = await c.spawnInNetns([process.execPath, '-e', `require('http').createServer((q, r) => r.end('ok')).listen(${WEB_PORT}, '127.0.0.1')`], join(work, 'web.log'));
  t.teardown(() => web.stop());
  const hosts = join(work, 'proxy-hosts');
  await writeFile(hosts, '127.0.0.1 localhost\n127.0.0.1 web.proxy-only.test\n');
  const proxy = await startTinyproxy({ dir: work, port: 3128, netnsPid: c.leader, hostsFile: hosts });
  t.teardown(() => proxy.stop());

  // What user data (or the AMI) does, as for kubelet and containerd: the drop-in, then daemon-reload.
  const write = await c.exec(['sh', '-c', 'mkdir -p /etc/systemd/system/postjoin.service.d && cat > /etc/systemd/system/postjoin.service.d/http-proxy.conf && systemctl daemon-reload'], { input: DROP_IN });
  t.equal(write.code, 0, `the drop-in is in place: ${write.stderr}`);
  const env = (await c.systemctl('show', 'postjoin.service', '-p', 'Environment', '-p', 'DropInPaths')).stdout;
  t.match(env, 'DropInPaths=/etc/systemd/system/postjoin.service.d/http-proxy.conf');
  t.match(env, 'HTTP_PROXY=http://127.0.0.1:3128 HTTPS_PROXY=http://127.0.0.1:3128 NO_PROXY=localhost,127.0.0.1,169.254.169.254,.internal');

  const start = await c.systemctl('start', 'postjoin.service');
  t.equal(start.code, 0, `systemctl start postjoin: ${start.stderr}`);
  t.match((await c.systemctl('show', 'postjoin.service', '-p', 'Result')).stdout, /Result=success/);
  const journal = await c.journal('postjoin.service');
  t.match(journal, `done waiting for http://web.proxy-only.test:${WEB_PORT}/from-the-unit to answer 2xx: HTTP 200 through proxy http://127.0.0.1:3128 (from HTTP_PROXY)`);
  await waitFor('tinyproxy to have logged the request', async () => (await proxy.requests()).includes(`GET http://web.proxy-only.test:${WEB_PORT}/from-the-unit`), { timeoutMs: 5000 });
  t.pass('the request went through tinyproxy');
});
