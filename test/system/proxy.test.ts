// postjoin behind a real HTTP proxy (tinyproxy), as a node in a private subnet: the bundle as a process, in a
// network namespace where the Kubernetes API, EC2, ECR and a web server have names that only the proxy resolves
// (test/helpers/proxy-world.ts). A request that bypasses the proxy cannot reach them; tinyproxy's log proves what
// went through it. IMDS sits at its real address, 169.254.169.254, which is not loopback: only postjoin's own rule
// keeps it off the proxy.
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { logLines, taskList, type CliResult } from '../helpers/cli.js';
import { nodeRuntime } from '../helpers/node-runtimes.js';
import { DIRECT_IP, INSTANCE_ID, PROXY_ONLY, ROLE, TLS_PROXY_PORT, needsProxyWorld, startProxyWorld, type ProxyWorld } from '../helpers/proxy-world.js';

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

  t.test('NO_PROXY sends each of them direct, where only the proxy could reach them', async (t) => {
    const proxy = await w.startProxy();
    const env = (noProxy: string) => nodeEnv(w, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: noProxy });
    /** A run, and what went through the proxy during it. */
    const observed = async (run: () => Promise<CliResult>) => {
      const before = (await proxy.requests()).length;
      const r = await run();
      return { r, through: (await proxy.requests()).slice(before) };
    };

    const ec2 = await observed(async () => w.postjoin((await nodeDir(w, { sources: 'file, tags', tasks: wait('x', `https://${web}:${httpsPort}/`) })).args, env(PROXY_ONLY.ec2)));
    t.equal(ec2.r.code, 4, 'EC2 excluded: the tags source cannot be read (exit 4)');
    t.match(messages(ec2.r).join('\n'), `EC2 DescribeInstances for ${INSTANCE_ID} in us-west-2 failed after 2 attempt(s): Error: getaddrinfo EAI_AGAIN ${PROXY_ONLY.ec2}`);
    t.ok(messages(ec2.r).some((m) => m.startsWith('reported postjoin.io/Ready=False/SourceError')), 'and the Node is told so, through the proxy');
    t.notOk(ec2.through.some((l) => l.includes(PROXY_ONLY.ec2)), `EC2 never went to the proxy: ${ec2.through.join(', ')}`);
    t.ok(ec2.through.some((l) => l.includes(PROXY_ONLY.kube)), 'the report did');

    const kube = await observed(async () => w.postjoin((await nodeDir(w, { tasks: wait('x', `https://${web}:${httpsPort}/kube-excluded`), kubernetes: 'timeout: 3s' })).args, env(`other.example,${PROXY_ONLY.kube}`)));
    t.equal(kube.r.code, 0, 'the Kubernetes API excluded: the run still succeeds');
    t.match(messages(kube.r).join('\n'), new RegExp(`could not report to Node ${w.world.node}: .*EAI_AGAIN ${PROXY_ONLY.kube.replace(/\./g, '\\.')}`));
    t.same(kube.through, [`CONNECT ${web}:${httpsPort}`], 'only the wait task went to the proxy');

    const waits = await observed(async () =>
      w.postjoin(
        (await nodeDir(w, {
          tasks:
            wait('by-cidr', `https://${DIRECT_IP}:${httpsPort}/direct`) +
            wait('by-port', `http://${web}:${httpPort}/excluded`, '    onFailure: continue\n').replace('timeout: 15s', 'timeout: 2s') +
            wait('other-port', `https://${web}:${httpsPort}/other-port`),
        })).args,
        env(`192.0.2.0/24, ${web}:${httpPort}`),
      ),
    );
    t.equal(waits.r.code, 0, 'the waits ran');
    t.match(messages(waits.r).join('\n'), `still waiting for http://${web}:${httpPort}/excluded to answer 2xx; last seen: EAI_AGAIN: getaddrinfo EAI_AGAIN ${web}`);
    const seen = (await w.requests()).web;
    t.ok(seen.some((x) => x.path === '/direct'), 'the CIDR-excluded address was reached directly');
    t.ok(seen.some((x) => x.path === '/other-port'), 'the same name on another port went through the proxy');
    t.notOk(waits.through.some((l) => l.includes(DIRECT_IP) || l.includes(`:${httpPort}/`)), `neither excluded wait went to the proxy: ${waits.through.join(', ')}`);
    t.ok(waits.through.includes(`CONNECT ${web}:${httpsPort}`));

    const ecr = await observed(() => w.program('test/helpers/proxy-ecr-probe.ts', [ECR_REGISTRY], nodeEnv(w, { HTTPS_PROXY: proxy.url, no_proxy: '.proxy-only.test' })));
    t.match(JSON.parse(ecr.r.stdout.trim()).error, `EAI_AGAIN ${PROXY_ONLY.ecr}`, 'ECR excluded by a domain suffix');
    t.same(ecr.through, [], 'and it never went to the proxy');
  });

  t.test('a proxy that is down: clear errors naming the proxy and the target, never its password', async (t) => {
    const dead = 'http://node:s3cret-pw@127.0.0.1:3999';
    const env = nodeEnv(w, { HTTPS_PROXY: dead, HTTP_PROXY: dead });
    const tags = await w.postjoin((await nodeDir(w, { sources: 'file, tags', tasks: wait('x', `https://${web}:${httpsPort}/`), kubernetes: 'timeout: 3s' })).args, env);
    t.equal(tags.code, 4, 'EC2 unreachable through the proxy: exit 4');
    t.match(messages(tags).join('\n'), `EC2 DescribeInstances for ${INSTANCE_ID} in us-west-2 failed after 2 attempt(s): ProxyError: cannot reach proxy http://127.0.0.1:3999 (from HTTPS_PROXY) to CONNECT to ${new URL(w.world.ec2).host}: connection refused`);
    const run = await w.postjoin((await nodeDir(w, { tasks: wait('web', `https://${web}:${httpsPort}/`).replace('timeout: 15s', 'timeout: 1s'), kubernetes: 'timeout: 3s' })).args, env);
    t.equal(run.code, 1, 'the wait task failed: exit 1');
    const text = messages(run).join('\n');
    t.match(text, `still waiting for https://${web}:${httpsPort}/ to answer 2xx; last seen: cannot reach proxy http://127.0.0.1:3999 (from HTTPS_PROXY) to CONNECT to ${web}:${httpsPort}: connection refused`);
    t.match(text, `could not report to Node ${w.world.node}: condition postjoin.io/Ready=False/TaskFailed: GET /api/v1/nodes/${w.world.node}: cannot reach proxy http://127.0.0.1:3999 (from HTTPS_PROXY) to CONNECT to ${PROXY_ONLY.kube}`);
    t.notMatch(tags.stdout + tags.stderr + run.stdout + run.stderr, 's3cret', 'the password is never written');
  });

  t.test('a proxy that refuses: 407 without credentials, the credentials in the URL as Basic, 403 for a port it does not tunnel', async (t) => {
    const auth = await w.startProxy({ basicAuth: { user: 'node', password: 'pr0xy-pw' } });
    const task = (path: string) => wait('web', `https://${web}:${httpsPort}${path}`).replace('timeout: 15s', 'timeout: 1s') + wait('plain', `http://${web}:${httpPort}${path}`).replace('timeout: 15s', 'timeout: 1s');
    const bare = await w.postjoin((await nodeDir(w, { tasks: task('/no-credentials'), kubernetes: 'timeout: 5s' })).args, nodeEnv(w, { HTTPS_PROXY: auth.url, HTTP_PROXY: auth.url }));
    t.equal(bare.code, 1);
    const text = messages(bare).join('\n');
    t.match(text, `last seen: proxy ${auth.url} (from HTTPS_PROXY) answered CONNECT to ${web}:${httpsPort} with HTTP 407 Proxy Authentication Required: the proxy wants credentials`);
    t.match(text, /could not report to Node [^:]+: condition postjoin\.io\/Ready=False\/TaskFailed: GET \/api\/v1\/nodes\/[^:]+: proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\) answered CONNECT to kube\.proxy-only\.test:\d+ with HTTP 407/);
    const gets = (await w.requests()).kube.length;
    const withCreds = auth.url.replace('http://', 'http://node:pr0xy-pw@');
    const good = await w.postjoin((await nodeDir(w, { tasks: task('/with-credentials') })).args, nodeEnv(w, { HTTPS_PROXY: withCreds, HTTP_PROXY: withCreds }));
    succeeded(t, good);
    t.ok((await w.requests()).kube.length > gets, 'the Node was reported through the authenticating proxy');
    t.notMatch(good.stdout + good.stderr + bare.stdout, 'pr0xy-pw', 'the password is never written');

    const ports = await w.startProxy({ connectPorts: [443] });
    const refused = await w.postjoin((await nodeDir(w, { tasks: wait('web', `https://${web}:${httpsPort}/`).replace('timeout: 15s', 'timeout: 1s'), kubernetes: 'timeout: 3s' })).args, nodeEnv(w, { HTTPS_PROXY: ports.url }));
    t.match(messages(refused).join('\n'), `proxy ${ports.url} (from HTTPS_PROXY) answered CONNECT to ${web}:${httpsPort} with HTTP 403`);
  });

  t.test('the same on Node 22 (the single executable\'s) and Node 24', async (t) => {
    const proxy = await w.startProxy();
    for (const major of [22, 24]) {
      const node = await nodeDir(w, { sources: 'file, tags', tasks: wait('web-http', `http://${web}:${httpPort}/node-${major}`) + wait('web-https', `https://${web}:${httpsPort}/node-${major}`) });
      const before = (await proxy.requests()).length;
      const r = await w.postjoin(node.args, nodeEnv(w, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url }), { node: nodeRuntime(major) });
      succeeded(t, r);
      const through = (await proxy.requests()).slice(before);
      t.ok(['CONNECT ec2', 'CONNECT kube', `GET http://${web}:${httpPort}/node-${major}`, `CONNECT ${web}:${httpsPort}`].every((x) => through.some((l) => l.startsWith(x))), `Node ${major}: EC2, the report and both waits through the proxy`);
      t.ok(messages(r).some((m) => m.startsWith('reported postjoin.io/Ready=True/Succeeded')), `Node ${major}: reported`);
    }
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

  t.test('the AWS SDK in absolute form through HTTP_PROXY, and an https:// proxy', async (t) => {
    const proxy = await w.startProxy();
    const plain = await w.program('test/helpers/proxy-ecr-probe.ts', [ECR_REGISTRY], { ...nodeEnv(w, { HTTP_PROXY: proxy.url }), AWS_ENDPOINT_URL_ECR: w.world.ecrHttp });
    t.same(JSON.parse(plain.stdout.trim()), { ok: { username: 'AWS' } }, `an http:// ECR endpoint answered\n${plain.stderr}`);
    t.ok((await proxy.requests()).includes(`POST ${w.world.ecrHttp}/`), 'as one absolute-form request to the proxy');

    // tinyproxy behind a TLS front whose certificate names 192.0.2.10: HTTPS_PROXY=https://192.0.2.10:PORT.
    const behindTls = await w.startProxy({ port: TLS_PROXY_PORT });
    const node = await nodeDir(w, { tasks: wait('web', `https://${web}:${httpsPort}/via-tls-proxy`) + wait('plain', `http://${web}:${httpPort}/via-tls-proxy`) });
    const r = await w.postjoin(node.args, nodeEnv(w, { HTTPS_PROXY: w.world.tlsProxy, HTTP_PROXY: w.world.tlsProxy }));
    succeeded(t, r);
    const through = await behindTls.requests();
    t.ok(through.includes(`CONNECT ${web}:${httpsPort}`) && through.includes(`GET http://${web}:${httpPort}/via-tls-proxy`), `both waits went through the https:// proxy: ${through.join(', ')}`);
    if (!t.ok(through.some((l) => l.startsWith(`CONNECT ${PROXY_ONLY.kube}:`)), 'and so did the report')) t.comment(messages(r).join('\n'));
    t.match(messages(r).join('\n'), `HTTP 200 through proxy ${w.world.tlsProxy} (from HTTPS_PROXY)`);
  });
});
