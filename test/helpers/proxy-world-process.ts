// The far side of a proxy, as a process of its own inside the network namespace of test/helpers/proxy-world.ts:
// everything a node behind an HTTP proxy talks to, reachable (by name) only through the proxy, which alone has
// these names in its /etc/hosts. Bundled by esbuild (bundleProgram) and started with `nsenter -n`. It writes into
// `dir`:
//   world-ca.crt      the CA of every TLS endpoint below except the Kubernetes API (the node trusts it through
//                     NODE_EXTRA_CA_CERTS, as a private CA is trusted on a node)
//   kubeconfig        the node's: server https://kube.proxy-only.test:PORT with tls-server-name `kubernetes` (the
//                     stand-in's certificate does not name kube.proxy-only.test), its CA inline, an exec plugin
//   world.json        the endpoints (see World), written last, once all of the above is in place
//   requests.json     what each server saw so far, rewritten as it comes
// Endpoints: IMDS at its real address 169.254.169.254:80 (the namespace has that address on lo), the Kubernetes
// API stand-in, EC2 and ECR over HTTPS (a TLS front before each emulator, as the real ones are HTTPS), a web
// server over http and https, and a kubelet healthz stub on 127.0.0.1. Usage: node world.cjs <dir> <node name>
import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import YAML from 'yaml';
import { startEc2Server } from '../emulators/ec2-server.js';
import { startEcrServer } from '../emulators/ecr-server.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { startKubeApiServer } from '../emulators/kube-apiserver.js';
import { kubeconfigText } from '../emulators/kube-kubeconfig.js';
import { startKubeletStub } from '../emulators/kubelet-healthz.js';

/** Names only the proxy resolves (to 127.0.0.1 in the namespace). */
export const PROXY_ONLY = { kube: 'kube.proxy-only.test', ec2: 'ec2.proxy-only.test', ecr: 'ecr.proxy-only.test', web: 'web.proxy-only.test' } as const;
/** An address of the namespace that is not loopback: reachable directly, so NO_PROXY can be seen to send a request there. */
export const DIRECT_IP = '192.0.2.10';
export const INSTANCE_ID = 'i-0proxy0000000001';
export const REGION = 'us-west-2';
/** The port behind the world's TLS front (World.tlsProxy): start a tinyproxy on it. */
export const TLS_PROXY_PORT = 3200;
export const ROLE = { name: 'node-role', accessKeyId: 'AKIAPROXYWORLD000001', secretAccessKey: 'secret', token: 'session-token' };

export interface World {
  node: string;
  kubeServer: string;
  kubeconfig: string;
  caFile: string;
  kubeletHealthz: string;
  /** https://ec2.proxy-only.test:PORT, for AWS_ENDPOINT_URL_EC2. */
  ec2: string;
  /** https://ecr.proxy-only.test:PORT, for AWS_ENDPOINT_URL_ECR. */
  ecr: string;
  /** The same ECR emulator over plain http://, for an SDK request through HTTP_PROXY in absolute form. */
  ecrHttp: string;
  /** https://192.0.2.10:PORT: a TLS front to TLS_PROXY_PORT, so that tinyproxy there is an https:// proxy. */
  tlsProxy: string;
  /** The web server: http and https ports (each answers 200 "ready" on any path). */
  webHttpPort: number;
  webHttpsPort: number;
}

export interface WorldRequests {
  kube: { method: string; path: string; user?: string; status: number }[];
  ec2: { action: string; accessKeyId?: string; status: number }[];
  ecr: { target: string; accessKeyId?: string; status: number }[];
  imds: { method: string; path: string; outcome: number | 'dropped' }[];
  /** The web server's requests: the scheme it was reached by, the Host header and the path. */
  web: { scheme: string; host?: string; path?: string }[];
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and one server certificate for the proxy-only names and the direct address. */
function makeTls(dir: string): { caFile: string; key: string; cert: string } {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'world-ca.key', '-out', 'world-ca.crt',
    '-subj', '/CN=postjoin-proxy-world-ca', '-days', '2', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' +
    `subjectAltName=DNS:${PROXY_ONLY.ec2},DNS:${PROXY_ONLY.ecr},DNS:${PROXY_ONLY.web},IP:${DIRECT_IP}\n`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=proxy-world'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'world-ca.crt', '-CAkey', 'world-ca.key', '-CAcreateserial', '-days', '2', '-out', 'server.crt', '-extfile', 'server.ext'], dir);
  return { caFile: join(dir, 'world-ca.crt'), key: readFileSync(join(dir, 'server.key'), 'utf8'), cert: readFileSync(join(dir, 'server.crt'), 'utf8') };
}

/** A TCP (or TLS-terminating) front on `host` that pipes each connection to 127.0.0.1:target. */
async function front(host: string, port: number, target: number, tls?: { key: string; cert: string }): Promise<{ port: number; server: Server }> {
  const pipe = (client: Socket) => {
    const upstream = connect(target, '127.0.0.1');
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
  };
  const server = tls ? createTlsServer({ key: tls.key, cert: tls.cert }, pipe) : createNetServer(pipe);
  await new Promise<void>((r) => server.listen(port, host, r));
  return { port: (server.address() as AddressInfo).port, server };
}

export async function main(argv: string[]): Promise<void> {
  const [dir, node] = argv;
  if (!dir || !node) throw new Error('usage: world <dir> <node name>');
  const tls = makeTls(dir);
  const requests: WorldRequests = { kube: [], ec2: [], ecr: [], imds: [], web: [] };

  const imds = await startImdsServer({ instanceId: INSTANCE_ID, region: REGION, tagsInMetadata: false, role: ROLE });
  await front('169.254.169.254', 80, imds.port);

  const api = await startKubeApiServer({ dir });
  api.addNode(node, { taints: [{ key: 'readiness.k8s.io/postjoin', value: 'pending', effect: 'NoSchedule' }] });
  const kubePort = Number(new URL(api.url).port);
  const kubeServer = `https://${PROXY_ONLY.kube}:${kubePort}`;
  const credential = { apiVersion: 'client.authentication.k8s.io/v1beta1', kind: 'ExecCredential', status: { token: api.tokenFor(node) } };
  writeFileSync(join(dir, 'get-token'), `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify(credential)}\nEOF\n`, { mode: 0o755 });
  const exec = { apiVersion: 'client.authentication.k8s.io/v1beta1', command: join(dir, 'get-token'), args: ['eks', 'get-token', '--cluster-name', 'proxy-cluster'] };
  const kc = YAML.parse(kubeconfigText(kubeServer, api, true, { exec })) as { clusters: { cluster: Record<string, string> }[] };
  kc.clusters[0]!.cluster['tls-server-name'] = 'kubernetes';
  writeFileSync(join(dir, 'kubeconfig'), YAML.stringify(kc), { mode: 0o600 });

  const ec2 = await startEc2Server({ instances: { [INSTANCE_ID]: { Name: 'proxy-world', 'postjoin:30-web': `wait url https://${PROXY_ONLY.web}:WEBPORT/from-tag` } } });
  const ecr = await startEcrServer({ password: 'ecr-password' });
  const ec2Front = await front('127.0.0.1', 0, ec2.port, tls);
  const ecrFront = await front('127.0.0.1', 0, Number(new URL(ecr.url).port), tls);
  const proxyFront = await front(DIRECT_IP, 0, TLS_PROXY_PORT, tls);

  // The web server answers on every address of the namespace (127.0.0.1 for the proxy, DIRECT_IP for NO_PROXY).
  const onWeb = (req: IncomingMessage, res: ServerResponse) => {
    const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
    requests.web.push({ scheme, ...(req.headers.host ? { host: req.headers.host } : {}), ...(req.url ? { path: req.url } : {}) });
    res.end('ready');
  };
  const webHttp = createHttpServer(onWeb);
  const webTls = createHttpsServer({ key: tls.key, cert: tls.cert }, onWeb);
  await new Promise<void>((r) => webHttp.listen(0, '0.0.0.0', r));
  await new Promise<void>((r) => webTls.listen(0, '0.0.0.0', r));
  const webHttpPort = (webHttp.address() as AddressInfo).port;
  const webHttpsPort = (webTls.address() as AddressInfo).port;
  ec2.instances[INSTANCE_ID]!['postjoin:30-web'] = `wait url https://${PROXY_ONLY.web}:${webHttpsPort}/from-tag`;

  const kubelet = await startKubeletStub();
  kubelet.setHealthy(true);

  let written = '';
  const dump = () => {
    requests.kube = api.requests.map((r) => ({ method: r.method, path: r.path, ...(r.user ? { user: r.user } : {}), status: r.status }));
    requests.ec2 = ec2.requests.map((r) => ({ action: r.action, ...(r.accessKeyId ? { accessKeyId: r.accessKeyId } : {}), status: r.status }));
    requests.ecr = ecr.requests.map((r) => ({ target: r.target, ...(r.accessKeyId ? { accessKeyId: r.accessKeyId } : {}), status: r.status }));
    requests.imds = imds.requests.map((r) => ({ method: r.method, path: r.path, outcome: r.outcome }));
    const text = JSON.stringify(requests);
    if (text !== written) writeFileSync(join(dir, 'requests.json'), (written = text));
  };
  dump();
  setInterval(dump, 50);
  const world: World = {
    node,
    kubeServer,
    kubeconfig: join(dir, 'kubeconfig'),
    caFile: tls.caFile,
    kubeletHealthz: kubelet.url,
    ec2: `https://${PROXY_ONLY.ec2}:${ec2Front.port}`,
    ecr: `https://${PROXY_ONLY.ecr}:${ecrFront.port}`,
    ecrHttp: `http://${PROXY_ONLY.ecr}:${new URL(ecr.url).port}`,
    tlsProxy: `https://${DIRECT_IP}:${proxyFront.port}`,
    webHttpPort,
    webHttpsPort,
  };
  writeFileSync(join(dir, 'world.json'), JSON.stringify(world));
  process.on('SIGTERM', () => {
    dump();
    process.exit(0);
  });
}
