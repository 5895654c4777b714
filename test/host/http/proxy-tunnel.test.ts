// The proxy machinery in this process against a real proxy, Debian's tinyproxy, on 127.0.0.1: the CONNECT tunnel
// with TLS end to end, absolute-form requests, the AWS SDK's agents and the Kubernetes client, and every way a proxy
// fails. Targets are IP addresses on 127.0.0.1, so tinyproxy never asks a resolver; loopback is never proxied by the
// rules, so these tests hand the code a rule that always picks the proxy (the rules themselves: proxy-rules*.test.ts;
// names only a proxy resolves, and the bundle as a process: test/system/proxy.test.ts).
import { get as httpGetRaw, createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { get as httpsGetRaw } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { httpGet } from '../../../src/host/http/http-get.js';
import { proxyAgents } from '../../../src/host/http/proxy-agents.js';
import { parseProxyValue, type ProxyChoice, type ProxyRules } from '../../../src/host/http/proxy-rules.js';
import { ProxyError, openTunnel, tlsThrough } from '../../../src/host/http/proxy-tunnel.js';
import { createKubeClient, KubeApiError } from '../../../src/host/kube/api-client.js';
import { readKubeconfig } from '../../../src/host/kube/kubeconfig.js';
import { requireReal, which } from '../../harness/require-real.js';
import { freePort } from '../../harness/proc.js';
import { startTinyproxy, type Tinyproxy } from '../../harness/tinyproxy.js';
import { startKubeApiServer, type KubeStandIn } from '../../emulators/kube-apiserver.js';

const NODE = 'ip-10-0-3-3.us-west-2.compute.internal';
/** Rules that send everything through `url` (or make every choice `choice`). */
const always = (url: string, variable = 'HTTPS_PROXY'): ProxyRules => ({ any: true, choose: () => ({ proxy: parseProxyValue(url, variable)! }) });
const fixed = (choice: ProxyChoice): ProxyRules => ({ any: true, choose: () => choice });
const o = (timeoutMs = 5000) => ({ signal: new AbortController().signal, timeoutMs });
const body = (res: IncomingMessage) => new Promise<string>((r) => { let s = ''; res.on('data', (c: Buffer) => (s += c)); res.on('end', () => r(s)); });

t.test('through tinyproxy on 127.0.0.1', async (t) => {
  if (!(await requireReal(t, 'tinyproxy', async () => (await which('tinyproxy')) !== undefined, 'apt-get install -y --no-install-recommends tinyproxy-bin'))) return;
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-proxy-tunnel-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const proxy: Tinyproxy = await startTinyproxy({ dir });
  t.teardown(() => proxy.stop());
  const api: KubeStandIn = await startKubeApiServer();
  t.teardown(() => api.stop());
  api.addNode(NODE);
  const apiPort = Number(new URL(api.url).port);
  const web = createHttpServer((req, res) => res.end(`hello ${req.url} host=${req.headers.host}`));
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => web.close(() => r())));
  const webPort = (web.address() as AddressInfo).port;

  t.test('a CONNECT tunnel, then TLS checked as on a direct connection: the CA, the address, tls-server-name', async (t) => {
    const p = parseProxyValue(proxy.url, 'HTTPS_PROXY')!;
    for (const servername of [undefined, 'kubernetes']) {
      const tunnel = await openTunnel(p, { host: '127.0.0.1', port: apiPort }, { timeoutMs: 5000 });
      const tls = tlsThrough(tunnel, { host: '127.0.0.1', port: apiPort }, { ca: api.caPem, ...(servername ? { servername } : {}) });
      await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
      t.ok(tls.authorized, `the stand-in's certificate verified for ${servername ?? 'the address 127.0.0.1'}`);
      tls.destroy();
    }
    const wrongName = tlsThrough(await openTunnel(p, { host: '127.0.0.1', port: apiPort }, { timeoutMs: 5000 }), { host: '127.0.0.1', port: apiPort }, { ca: api.caPem, servername: 'not-the-server' });
    const err = await new Promise<NodeJS.ErrnoException>((r) => wrongName.once('error', r));
    t.equal(err.code, 'ERR_TLS_CERT_ALTNAME_INVALID', 'a name the certificate does not hold is refused');
    t.ok((await proxy.requests()).includes(`CONNECT 127.0.0.1:${apiPort}`), 'tinyproxy saw the CONNECT');
  });

  t.test('the Kubernetes client through the proxy, and what it says when the proxy fails', async (t) => {
    const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: NODE });
    const access = await readKubeconfig(kubeconfig);
    const node = await createKubeClient(access, { proxies: always(proxy.url) }).request<{ metadata: { name: string } }>({ method: 'GET', path: `/api/v1/nodes/${NODE}`, ...o() });
    t.equal(node.metadata.name, NODE);
    t.equal(api.requests.at(-1)?.user, `system:node:${NODE}`, 'as the node, over the tunnel');

    // A kubeconfig's proxy-url takes every request, loopback included, as client-go's does.
    const viaKubeconfig = await readKubeconfig(await api.writeKubeconfig({ user: 'token', nodeName: NODE }));
    const before = (await proxy.requests()).length;
    await createKubeClient({ ...viaKubeconfig, proxyUrl: proxy.url }).request({ method: 'GET', path: `/api/v1/nodes/${NODE}`, ...o() });
    t.same((await proxy.requests()).slice(before), [`CONNECT 127.0.0.1:${apiPort}`], 'proxy-url: through the proxy, though the server is on loopback');

    const dead = `http://u:secret@127.0.0.1:${await freePort()}`;
    const down = await createKubeClient(access, { proxies: always(dead) }).request({ method: 'GET', path: '/api', ...o() }).catch((e: unknown) => e);
    t.type(down, KubeApiError);
    t.match((down as KubeApiError).message, /^GET \/api: cannot reach proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\) to CONNECT to 127\.0\.0\.1:\d+: connection refused$/);
    t.equal((down as KubeApiError).retryable, true, 'a proxy that is down may come back');
    t.notMatch((down as Error).message, 'secret');

    const foreignCa = { ...access, ca: Buffer.from(api.clientCert('x', [], true).certPem) };
    const tlsErr = await createKubeClient(foreignCa, { proxies: always(proxy.url) }).request({ method: 'GET', path: '/api', ...o() }).catch((e: unknown) => e);
    t.match((tlsErr as Error).message, /^GET \/api \(through proxy http:\/\/127\.0\.0\.1:\d+ from HTTPS_PROXY\): TLS: .*; or the proxy intercepts TLS/);
    t.equal((tlsErr as KubeApiError).retryable, false);

    const cgi = await createKubeClient(access, { proxies: fixed({ refused: 'refusing to use HTTP_PROXY value in CGI environment' }) }).request({ method: 'GET', path: '/api', ...o() }).catch((e: unknown) => e);
    t.match((cgi as Error).message, 'GET /api: refusing to use HTTP_PROXY value in CGI environment');
  });

  t.test('refusals: 407, 403 and 500 from the proxy, each named, retried only when the proxy says its upstream failed', async (t) => {
    const auth = await startTinyproxy({ dir, basicAuth: { user: 'node', password: 'pw' }, connectPorts: [apiPort] });
    t.teardown(() => auth.stop());
    const p = (url: string) => parseProxyValue(url, 'HTTPS_PROXY')!;
    const e407 = (await openTunnel(p(auth.url), { host: '127.0.0.1', port: apiPort }, { timeoutMs: 5000 }).catch((e: unknown) => e)) as ProxyError;
    t.match(e407, { name: 'ProxyError', status: 407, retryable: false });
    t.match(e407.message, /answered CONNECT to 127\.0\.0\.1:\d+ with HTTP 407 Proxy Authentication Required: the proxy wants credentials/);
    const withCreds = auth.url.replace('http://', 'http://node:pw@');
    const ok = await openTunnel(p(withCreds), { host: '127.0.0.1', port: apiPort }, { timeoutMs: 5000 });
    t.pass('with the credentials from the URL (Proxy-Authorization: Basic) the tunnel opens');
    ok.destroy();
    const e403 = (await openTunnel(p(withCreds), { host: '127.0.0.1', port: webPort }, { timeoutMs: 5000 }).catch((e: unknown) => e)) as ProxyError;
    t.match(e403, { status: 403, retryable: false }, 'a port tinyproxy does not tunnel (ConnectPort)');
    const closed = await freePort();
    const e500 = (await openTunnel(p(proxy.url), { host: '127.0.0.1', port: closed }, { timeoutMs: 5000 }).catch((e: unknown) => e)) as ProxyError;
    t.match(e500, { status: 500, retryable: true }, 'the proxy could not reach the target: 5xx, may pass');
    t.match(e500.message, `answered CONNECT to 127.0.0.1:${closed} with HTTP 500`);
    const socks = (await openTunnel(p('socks5://127.0.0.1:1080'), { host: '127.0.0.1', port: 1 }, { timeoutMs: 5000 }).catch((e: unknown) => e)) as ProxyError;
    t.match(socks.message, 'postjoin speaks to http:// and https:// proxies only, not socks5://');
  });

  t.test('a proxy that accepts and never answers: ETIMEDOUT within the timeout; an abort ends it at once', async (t) => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((s) => void sockets.add(s.on('error', () => {})));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => silent.close(() => r()));
    });
    const p = parseProxyValue(`127.0.0.1:${(silent.address() as AddressInfo).port}`, 'https_proxy')!;
    const slow = (await openTunnel(p, { host: '127.0.0.1', port: 1 }, { timeoutMs: 300 }).catch((e: unknown) => e)) as ProxyError;
    t.match(slow, { code: 'ETIMEDOUT', retryable: true });
    t.match(slow.message, /did not answer CONNECT to 127\.0\.0\.1:1 within 300 ms/);
    const stop = new AbortController();
    const pending = openTunnel(p, { host: '127.0.0.1', port: 1 }, { timeoutMs: 60_000, signal: stop.signal }).catch((e: unknown) => e);
    stop.abort();
    t.match(await pending, { retryable: false, message: /aborted$/ });
  });

  t.test('httpGet: http:// in absolute form, https:// through CONNECT, each answer marked with the proxy', async (t) => {
    const plain = await httpGet(`http://127.0.0.1:${webPort}/a`, { ...o(), proxies: always(proxy.url, 'HTTP_PROXY') });
    t.same(plain, { status: 200, body: `hello /a host=127.0.0.1:${webPort}`, via: `proxy ${proxy.url} (from HTTP_PROXY)` });
    t.ok((await proxy.requests()).includes(`GET http://127.0.0.1:${webPort}/a`));
    const tls = await httpGet(`https://127.0.0.1:${apiPort}/healthz`, { ...o(), proxies: always(proxy.url) });
    t.match(tls, { error: /^SELF_SIGNED_CERT_IN_CHAIN: self-signed certificate in certificate chain \(through proxy http:\/\/127\.0\.0\.1:\d+ \(from HTTPS_PROXY\)\)$/ }, 'TLS to the target, end to end: its CA is not the system\'s');
    const direct = await httpGet(`http://127.0.0.1:${webPort}/direct`, { ...o(), proxies: always(proxy.url, 'HTTP_PROXY'), direct: true });
    t.same(direct, { status: 200, body: `hello /direct host=127.0.0.1:${webPort}` }, 'direct: never through a proxy');
    const dead = `http://127.0.0.1:${await freePort()}`;
    t.match(await httpGet(`http://127.0.0.1:${webPort}/`, { ...o(), proxies: always(dead, 'HTTP_PROXY') }), { error: `cannot reach proxy ${dead} (from HTTP_PROXY): connection refused` });
    t.same(await httpGet('http://127.0.0.1:1/', { ...o(), proxies: fixed({ refused: 'no' }) }), { error: 'no' });
    t.match(await httpGet('http://127.0.0.1:1/', { ...o(), proxies: always('socks5://127.0.0.1:1', 'HTTP_PROXY') }), { error: /http:\/\/ and https:\/\/ proxies only/ });
  });

  t.test("the AWS SDK's agents: per connection, through the proxy or direct, as the rules say", async (t) => {
    const before = (await proxy.requests()).length;
    const via = proxyAgents(always(proxy.url, 'HTTP_PROXY'));
    const res = await new Promise<IncomingMessage>((r, j) => httpGetRaw({ host: '127.0.0.1', port: webPort, path: '/sdk', agent: via.httpAgent }, r).on('error', j));
    t.equal(await body(res), `hello /sdk host=127.0.0.1:${webPort}`);
    const tls = await new Promise<IncomingMessage>((r, j) => httpsGetRaw({ host: '127.0.0.1', port: apiPort, path: '/healthz', agent: via.httpsAgent, ca: api.caPem }, r).on('error', j));
    t.equal(tls.statusCode, 401, 'TLS through the tunnel, the CA given to the request checked');
    tls.resume();
    t.same((await proxy.requests()).slice(before), [`GET http://127.0.0.1:${webPort}/sdk`, `CONNECT 127.0.0.1:${apiPort}`]);

    const direct = proxyAgents(fixed({ direct: true }));
    await new Promise<void>((r, j) => httpGetRaw({ host: '127.0.0.1', port: webPort, path: '/d', agent: direct.httpAgent }, (x) => void body(x).then(() => r())).on('error', j));
    await new Promise<void>((r, j) => httpsGetRaw({ host: '127.0.0.1', port: apiPort, path: '/healthz', agent: direct.httpsAgent, ca: api.caPem }, (x) => (x.resume(), r())).on('error', j));
    t.equal((await proxy.requests()).length, before + 2, 'direct: nothing more went to the proxy');

    const refused = proxyAgents(fixed({ refused: 'refusing to use HTTP_PROXY value in CGI environment' }));
    const err = await new Promise<Error>((r) => httpGetRaw({ host: '127.0.0.1', port: webPort, agent: refused.httpAgent }).on('error', r));
    t.match(err, { name: 'ProxyError', message: /CGI/ });
    const dead = proxyAgents(always(`http://127.0.0.1:${await freePort()}`));
    const down = await new Promise<NodeJS.ErrnoException>((r) => httpsGetRaw({ host: '127.0.0.1', port: apiPort, agent: dead.httpsAgent }).on('error', r));
    t.match(down, { name: 'ProxyError', code: 'ECONNREFUSED' }, 'a socket code the SDK retries on');
    for (const a of [via, direct, refused, dead]) (a.httpAgent.destroy(), a.httpsAgent.destroy());
  });
});
