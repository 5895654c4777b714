// postjoin behind a real HTTP proxy (tinyproxy), as a node in a private subnet: the bundle as a process, in a
// network namespace where the Kubernetes API, EC2, ECR and a web server have names that only the proxy resolves
// (test/helpers/proxy-world.ts). A request that bypasses the proxy cannot reach them; tinyproxy's log proves what
// went through it. IMDS sits at its real address, 169.254.169.254, which is not loopback: only postjoin's own rule
// keeps it off the proxy.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { logLines, taskList, type CliResult } from '../helpers/cli.js';
import { DIRECT_IP, INSTANCE_ID, PROXY_ONLY, ROLE, needsProxyWorld, startProxyWorld, type ProxyWorld } from '../helpers/proxy-world.js';

const ECR_REGISTRY = '111122223333.dkr.ecr.us-west-2.amazonaws.com';

interface NodeSetup {
  sources?: string;
  tasks: string;
  kubernetes?: string;
}

/** A config dir for `run`: IMDS at its default address, readiness on the kubelet stub, reporting to the stand-in. */
async function nodeDir(w: ProxyWorld, o: NodeSetup): Promise<{ args: string[]; dir: string }> {
  const dir = await mkdtemp(join(w.dir, 'node-'));
  const tasksDir = join(dir, 'tasks.d');
  await mkdir(tasksDir);
  await writeFile(join(tasksDir, '10-tasks.yaml'), taskList(o.tasks));
  await writeFile(
    join(dir, 'config.yaml'),
    [
      `sources: [${o.sources ?? 'file'}]`,
      `tasksDir: ${tasksDir}`,
      'imds: { budget: 20s }',
      `readiness: { units: [], containerd: false, kubeletHealthz: "${w.world.kubeletHealthz}", timeout: 20s }`,
      `kubernetes: { kubeconfig: ${w.world.kubeconfig}, nodeName: ${w.world.node}, ${o.kubernetes ?? 'timeout: 10s'} }`,
      '',
    ].join('\n'),
  );
  return { dir, args: ['run', '--config', join(dir, 'config.yaml'), '--state-dir', join(dir, 'state')] };
}

/** The node's environment: the proxy variables given, the AWS endpoints of the world, its CA; no AWS credentials. */
function nodeEnv(w: ProxyWorld, proxyVars: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return {
    ...proxyVars,
    AWS_ENDPOINT_URL_EC2: w.world.ec2,
    AWS_ENDPOINT_URL_ECR: w.world.ecr,
    AWS_CONFIG_FILE: join(w.dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(w.dir, 'no-aws-credentials'),
    // A failure costs two attempts, not the node's twenty.
    AWS_MAX_ATTEMPTS: '2',
    NODE_EXTRA_CA_CERTS: w.world.caFile,
    JOURNAL_STREAM: '',
    NOTIFY_SOCKET: '',
  };
}

/** Exit 0, or the run's whole output to say why not. */
function succeeded(t: Test, r: CliResult): void {
  if (!t.equal(r.code, 0, 'run succeeded')) t.comment(`${r.stdout}\n${r.stderr}`);
}
const messages = (r: CliResult) => logLines(r.stdout).map((l) => String(l.msg));
const wait = (name: string, url: string, more = '') => `  - name: ${name}\n    timeout: 15s\n    wait: { url: "${url}", interval: 100ms }\n${more}`;

t.test('behind tinyproxy', async (t) => {
  if (!(await needsProxyWorld(t))) return;
  const w = await startProxyWorld(t);
  const { webHttpPort: httpPort, webHttpsPort: httpsPort } = w.world;
  const web = `${PROXY_ONLY.web}`;

  t.test('run: the Node report, EC2 DescribeInstances and wait: {url} go through the proxy; IMDS and the kubelet never do', async (t) => {
    const proxy = await w.startProxy();
    const node = await nodeDir(w, {
      sources: 'file, tags',
      tasks: wait('web-http', `http://${web}:${httpPort}/plain`) + wait('web-https', `https://${web}:${httpsPort}/tls`) + wait('direct-ip', `https://${DIRECT_IP}:${httpsPort}/by-ip`),
    });
    const r = await w.postjoin(node.args, nodeEnv(w, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '' }));
    succeeded(t, r);
    const through = await proxy.requests();
    const kubePort = new URL(w.world.kubeServer).port;
    t.ok(through.includes(`CONNECT ${PROXY_ONLY.kube}:${kubePort}`), `the Kubernetes API through CONNECT: ${through.join(', ')}`);
    t.ok(through.includes(`CONNECT ${new URL(w.world.ec2).host}`), 'EC2 through CONNECT');
    t.ok(through.includes(`GET http://${web}:${httpPort}/plain`), 'an http:// wait in absolute form');
    t.ok(through.includes(`CONNECT ${web}:${httpsPort}`), 'an https:// wait through CONNECT');
    t.ok(through.includes(`CONNECT ${DIRECT_IP}:${httpsPort}`), 'an https:// wait to an IP address through CONNECT');
    t.notOk(through.some((l) => /169\.254\.169\.254|127\.0\.0\.1/.test(l)), 'neither IMDS nor the kubelet healthz went to the proxy');

    const seen = await w.requests();
    t.ok(seen.ec2.some((e) => e.action === 'DescribeInstances' && e.status === 200 && e.accessKeyId === ROLE.accessKeyId), 'EC2 answered, signed with the role from IMDS');
    t.ok(seen.imds.some((i) => i.path.startsWith('/latest/meta-data/iam/security-credentials/') && i.outcome === 200), "the SDK's credential chain read IMDS directly");
    t.ok(seen.imds.some((i) => i.path === '/latest/meta-data/tags/instance' && i.outcome === 404), 'tags not in IMDS, so EC2 was asked');
    t.ok(seen.web.some((x) => x.scheme === 'https' && x.path === '/from-tag'), "the tag's wait task (from DescribeInstances) ran through the proxy");
    t.ok(seen.web.some((x) => x.scheme === 'http' && x.path === '/plain' && x.host === `${web}:${httpPort}`), 'the http:// wait arrived with its own Host');
    t.ok(seen.kube.some((k) => k.method === 'PATCH' && k.path.endsWith('/status') && k.status === 200), 'the Node report was made');
    t.ok(messages(r).some((m) => m.startsWith(`reported postjoin.io/Ready=True/Succeeded to Node ${w.world.node}`)), 'the journal says it was reported');
    t.ok(seen.imds.length > 0 && seen.imds.every((i) => i.outcome !== 'dropped'), `IMDS was read (${seen.imds.length} requests), directly`);
    t.comment(`instance ${INSTANCE_ID}: ${through.length} requests through the proxy`);
  });

  t.test('ECR GetAuthorizationToken goes through the proxy', async (t) => {
    const proxy = await w.startProxy();
    const before = (await w.requests()).ecr.length;
    const r = await w.program('test/helpers/proxy-ecr-probe.ts', [ECR_REGISTRY], nodeEnv(w, { https_proxy: proxy.url }));
    t.same(JSON.parse(r.stdout.trim()), { ok: { username: 'AWS' } }, `a token came back\n${r.stderr}`);
    t.ok((await proxy.requests()).includes(`CONNECT ${new URL(w.world.ecr).host}`), 'through CONNECT');
    const calls = (await w.requests()).ecr.slice(before);
    t.ok(calls.some((c) => c.status === 200 && c.accessKeyId === ROLE.accessKeyId), 'signed with the role from IMDS');
  });
});
