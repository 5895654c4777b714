// postjoin's proxy decision against the real thing: Go's golang.org/x/net/http/httpproxy, which the kubelet's
// http.ProxyFromEnvironment is. A small Go program (test/helpers/go-proxy) decides each case with Go's own code: the
// copy inside the installed toolchain (GOROOT/src/vendor, go 1.19 on Debian 12), built as a module from that vendor
// tree, so nothing is downloaded. Twice:
// - "as the kubelet has it today": that copy with upstream's two later changes to it applied (golang/net 8c07e20f,
//   "httpproxy: allow any scheme", 2023; cde1dda9, "do not mismatch IPv6 zone ids against hosts", the fix for
//   CVE-2025-22870, in Go 1.23.7/1.24.1, which EKS kubelets are built with). postjoin must agree on every case;
// - as go 1.19 ships it: postjoin must agree on every case those two changes do not touch.
// Cases: a table of the rules' corners, and 4,000 generated from fixed pools with a fixed seed (the same cases on
// every run). Needs the Go toolchain (apt-get install golang-go); CI installs it.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { proxyRulesFrom } from '../../../src/host/http/proxy-rules.js';
import { requireReal, which } from '../../harness/require-real.js';
import { ROOT } from '../../helpers/cli.js';

const run = promisify(execFile);

interface Case {
  env: Record<string, string>;
  url: string;
}
interface Decision {
  proxy: { scheme: string; host: string; user?: string; password?: string } | null;
  err?: string;
}

/** Upstream's changes to proxy.go after the copy in go 1.19, as small edits of that copy; each must apply once. */
const UPSTREAM_SINCE_GO119: { what: string; from: string; to: string }[] = [
  {
    what: 'golang/net 8c07e20f: a value without a scheme or host is read as http://VALUE, any other scheme is kept',
    from: 'if err != nil ||\n\t\t(proxyURL.Scheme != "http" &&\n\t\t\tproxyURL.Scheme != "https" &&\n\t\t\tproxyURL.Scheme != "socks5") {',
    to: 'if err != nil || proxyURL.Scheme == "" || proxyURL.Host == "" {',
  },
  {
    what: 'golang/net cde1dda9 (CVE-2025-22870): a NO_PROXY name never matches an IP-address host',
    from: 'func (m domainMatch) match(host, port string, ip net.IP) bool {\n',
    to: 'func (m domainMatch) match(host, port string, ip net.IP) bool {\n\tif ip != nil {\n\t\treturn false\n\t}\n',
  },
];

async function goEnv(name: string): Promise<string> {
  return (await run('go', ['env', name])).stdout.trim();
}

/** Builds the Go program against GOROOT's vendored x/net, as shipped or with upstream's changes; offline. */
async function buildDecider(work: string, variant: 'go119' | 'upstream'): Promise<string> {
  const goroot = await goEnv('GOROOT');
  const dir = join(work, variant);
  await mkdir(dir);
  await cp(join(goroot, 'src/vendor'), join(dir, 'vendor'), { recursive: true });
  const modules = await readFile(join(dir, 'vendor/modules.txt'), 'utf8');
  const requires = [...modules.matchAll(/^# (\S+) (\S+)$/gm)].map((m) => `\t${m[1]} ${m[2]}`);
  await writeFile(join(dir, 'go.mod'), `module postjoin.test/goproxy\n\ngo 1.19\n\nrequire (\n${requires.join('\n')}\n)\n`);
  await cp(join(ROOT, 'test/helpers/go-proxy/main.go'), join(dir, 'main.go'));
  if (variant === 'upstream') {
    const file = join(dir, 'vendor/golang.org/x/net/http/httpproxy/proxy.go');
    let src = await readFile(file, 'utf8');
    for (const change of UPSTREAM_SINCE_GO119) {
      if (src.includes(change.to)) continue; // a newer toolchain has it already
      if (src.split(change.from).length !== 2) throw new Error(`cannot apply "${change.what}" to ${file}: the code it changes is not there once`);
      src = src.replace(change.from, change.to);
    }
    await writeFile(file, src);
  }
  const cache = join(tmpdir(), 'postjoin-go-build-cache');
  await mkdir(cache, { recursive: true });
  const env = { ...process.env, GOCACHE: cache, GOPATH: join(cache, 'gopath'), GOPROXY: 'off', GOTOOLCHAIN: 'local', GOFLAGS: '-mod=vendor' };
  await run('go', ['build', '-o', join(dir, 'decide'), '.'], { cwd: dir, env, timeout: 300_000 });
  return join(dir, 'decide');
}

async function goDecide(bin: string, cases: Case[]): Promise<Decision[]> {
  const child = execFile(bin, [], { maxBuffer: 64 * 1024 * 1024 });
  const out = new Promise<string>((resolve, reject) => {
    let s = '';
    child.stdout!.on('data', (c: Buffer) => (s += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`go-proxy exited ${code}`))));
  });
  child.stdin!.end(JSON.stringify(cases));
  return JSON.parse(await out) as Decision[];
}

/** postjoin's decision, in the Go program's shape. */
function ours(c: Case): Decision {
  const u = new URL(c.url);
  const choice = proxyRulesFrom(c.env).choose({ protocol: u.protocol, hostname: u.hostname, port: u.port });
  if ('refused' in choice) return { proxy: null, err: choice.refused };
  if ('direct' in choice) return { proxy: null };
  const p = choice.proxy;
  return {
    proxy: {
      scheme: p.protocol.replace(/:$/, ''),
      host: p.goHost,
      ...(p.username !== undefined ? { user: p.username } : {}),
      ...(p.password !== undefined ? { password: p.password } : {}),
    },
  };
}

const same = (a: Decision, b: Decision) => JSON.stringify(a.proxy) === JSON.stringify(b.proxy) && Boolean(a.err) === Boolean(b.err);

// The corners, each a rule of Go's (see src/host/http/proxy-rules.ts).
const P = 'http://proxy.corp:3128';
const TABLE: Case[] = [
  { env: { HTTPS_PROXY: P }, url: 'https://kube.example.com/' },
  { env: { HTTPS_PROXY: P }, url: 'http://kube.example.com/' },
  { env: { HTTP_PROXY: P }, url: 'https://kube.example.com/' },
  { env: { HTTP_PROXY: P }, url: 'http://kube.example.com:8080/x' },
  { env: { HTTPS_PROXY: '', https_proxy: P }, url: 'https://a.example/' },
  { env: { HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' }, url: 'https://a.example/' },
  { env: { HTTPS_PROXY: P, NO_PROXY: '', no_proxy: 'a.example' }, url: 'https://a.example/' },
  { env: { HTTPS_PROXY: P, NO_PROXY: 'b.example', no_proxy: 'a.example' }, url: 'https://a.example/' },
  { env: { HTTP_PROXY: P, REQUEST_METHOD: 'GET' }, url: 'http://a.example/' },
  { env: { HTTPS_PROXY: P, REQUEST_METHOD: 'GET' }, url: 'https://a.example/' },
  ...['localhost', '127.0.0.1', '127.9.9.9', '[::1]', '[::ffff:127.0.0.1]', 'localhost:8443'].map((h) => ({ env: { HTTPS_PROXY: P }, url: `https://${h}/` })),
  ...['proxy.corp:3128', 'proxy.corp', '10.0.0.5:3128', '[fd00::5]:3128', 'https://proxy.corp', 'https://proxy.corp:8443', 'socks5://proxy:1080',
    'ftp://proxy:21', 'HTTP://PROXY.CORP:3128', 'http://user:p%40ss@proxy.corp:3128', 'http://user@proxy.corp:3128', 'user:pw@proxy.corp:3128',
    'http://user:@proxy.corp', 'http://', 'http://proxy:port', '://x', '%zz', 'http://pro xy:3128', 'http://[fd00::5', ' proxy.corp:3128'].map((v) => ({
    env: { HTTPS_PROXY: v },
    url: 'https://kube.example.com/',
  })),
  ...[
    '*', 'kube.example.com', '.example.com', '*.example.com', 'example.com', 'ample.com', 'com', '.com', 'kube.example.com:443', 'kube.example.com:8443',
    'example.com:443', ' kube.example.com ', 'KUBE.EXAMPLE.COM', 'other.example, kube.example.com', ',,,', ':443', '*.', '.', '[::1]:443',
  ].map((n) => ({ env: { HTTPS_PROXY: P, NO_PROXY: n }, url: 'https://kube.example.com/' })),
  ...[
    '10.0.0.1', '10.0.0.1:443', '10.0.0.1:80', '10.0.0.0/8', '10.1.0.0/16', '0.0.0.0/0', '::/0', '::ffff:10.0.0.0/104', '::ffff:0:0/96', '10.0.0.0/33',
    '010.0.0.1', '1', '0.1', '.1', '0.0.1', '*.0.1', '[10.0.0.1]:443', '10.0.0.1/32', ' 10.0.0.0/8', '10.0.0.0/8 ',
  ].map((n) => ({ env: { HTTPS_PROXY: P, NO_PROXY: n }, url: 'https://10.0.0.1/' })),
  ...['2001:db8::1', '[2001:db8::1]:443', '2001:db8::/32', '2001:DB8::1', '::/0', 'db8::1', '1'].map((n) => ({ env: { HTTPS_PROXY: P, NO_PROXY: n }, url: 'https://[2001:db8::1]/' })),
  ...['10.0.0.0/8', '10.0.0.1', '::ffff:10.0.0.1', '::ffff:10.0.0.0/104'].map((n) => ({ env: { HTTPS_PROXY: P, NO_PROXY: n }, url: 'https://[::ffff:10.0.0.1]/' })),
  ...['bücher.example', '.bücher.example', 'xn--bcher-kva.example'].flatMap((n) =>
    ['https://bücher.example/', 'https://www.xn--bcher-kva.example/'].map((url) => ({ env: { HTTPS_PROXY: P, NO_PROXY: n }, url })),
  ),
];

/** A small deterministic generator (mulberry32): the same 4,000 cases on every run. */
function generator(seed: number): <T>(xs: readonly T[]) => T {
  let a = seed;
  const next = () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return (xs) => xs[Math.floor(next() * xs.length)]!;
}

const HOSTS = ['example.com', 'kube.example.com', 'a.b.example.com', 'sample.com', 'example.org', 'ec2.us-west-2.amazonaws.com', 'localhost', '127.0.0.1',
  '127.3.4.5', '10.0.0.1', '10.1.2.3', '10.255.0.9', '172.20.0.1', '192.168.0.5', '169.254.169.254', '8.8.8.8', '[::1]', '[2001:db8::1]', '[2001:db8::abcd]',
  '[fd00::5]', '[::ffff:10.0.0.1]', '[::ffff:192.168.0.5]', 'bücher.example', 'xn--bcher-kva.example'];
const PORTS = ['', ':80', ':443', ':8443', ':6443'];
const ENTRIES = ['*', 'example.com', '.example.com', '*.example.com', 'kube.example.com', 'ample.com', 'com', 'example.com:443', '.example.com:8443',
  'amazonaws.com', '.amazonaws.com', '10.0.0.1', '10.0.0.1:443', '10.0.0.0/8', '10.1.0.0/16', '172.16.0.0/12', '192.168.0.0/24', '169.254.169.254',
  '169.254.169.254:80', '0.0.0.0/0', '2001:db8::/32', '[2001:db8::1]:443', '2001:db8::1', '::ffff:10.0.0.0/104', '::/0', 'fd00::/8', '1', '0.1', '.1',
  '5', ':443', '', ' ', 'EXAMPLE.COM', ' example.org ', 'bücher.example', '.xn--bcher-kva.example', '10.0.0.0/40', '010.0.0.1', 'localhost', '[::1'];
const PROXIES = ['http://proxy.corp:3128', 'proxy.corp:3128', 'https://proxy.corp', '10.0.0.5:3128', '[fd00::5]:3128', 'http://u:p%40w@proxy:3128',
  'u:pw@proxy:3128', 'socks5://proxy:1080', 'ftp://proxy:21', 'proxy', 'HTTP://Proxy.Corp:3128', 'http://', 'http://proxy:port', '://x', '%zz', ''];

function generated(n: number): Case[] {
  const pick = generator(0x5eed17);
  const cases: Case[] = [];
  for (let i = 0; i < n; i++) {
    const env: Record<string, string> = {};
    const proxyName = pick(['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'] as const);
    env[proxyName] = pick(PROXIES);
    if (pick([true, false])) env[pick(['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'])] = pick(PROXIES);
    const entries = Array.from({ length: pick([0, 1, 2, 3, 5]) }, () => pick(ENTRIES));
    if (entries.length > 0 || pick([true, false])) env[pick(['NO_PROXY', 'no_proxy'])] = entries.join(pick([',', ', ', ' ,']));
    if (pick([false, false, false, true])) env[pick(['NO_PROXY', 'no_proxy'])] = pick(ENTRIES);
    if (pick([false, false, false, false, false, false, false, true])) env.REQUEST_METHOD = 'GET';
    cases.push({ env, url: `${pick(['http', 'https'])}://${pick(HOSTS)}${pick(PORTS)}/${pick(['', 'x', 'api/v1'])}` });
  }
  return cases;
}

/** Where go 1.19's copy and upstream differ: an IP-address host that a NO_PROXY name matched by suffix, or a proxy value's scheme. */
function upstreamChanged(c: Case, before: Decision, after: Decision): boolean {
  const hostIsIp = /^\[|^[0-9.]+$/.test(new URL(c.url).hostname);
  const schemeChanged = JSON.stringify(before.proxy?.host) !== JSON.stringify(after.proxy?.host) || before.proxy?.scheme !== after.proxy?.scheme;
  return hostIsIp || schemeChanged;
}

t.test("postjoin decides proxies as the kubelet's Go code does", async (t) => {
  if (!(await requireReal(t, 'Go toolchain', async () => (await which('go')) !== undefined, 'apt-get install -y --no-install-recommends golang-go'))) return;
  const work = await mkdtemp(join(tmpdir(), 'postjoin-go-proxy-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const [upstream, go119] = [await buildDecider(work, 'upstream'), await buildDecider(work, 'go119')];
  const cases = [...TABLE, ...generated(4000)];
  const [theirs, shipped] = [await goDecide(upstream, cases), await goDecide(go119, cases)];
  let proxied = 0;
  let changed = 0;
  const disagreements: string[] = [];
  const unexplained: string[] = [];
  cases.forEach((c, i) => {
    const mine = ours(c);
    if (theirs[i]!.proxy) proxied++;
    if (!same(mine, theirs[i]!)) disagreements.push(`${JSON.stringify(c)}: Go ${JSON.stringify(theirs[i])}, postjoin ${JSON.stringify(mine)}`);
    if (!same(shipped[i]!, theirs[i]!)) {
      changed++;
      if (!upstreamChanged(c, shipped[i]!, theirs[i]!)) unexplained.push(`${JSON.stringify(c)}: go 1.19 ${JSON.stringify(shipped[i])}, upstream ${JSON.stringify(theirs[i])}`);
    }
  });
  t.same(disagreements, [], `the same decision on all ${cases.length} cases (${proxied} proxied)`);
  t.same(unexplained, [], `go 1.19's copy differs from upstream's only where upstream changed it (${changed} cases)`);
  t.ok(proxied > cases.length / 10 && proxied < cases.length * 0.9, `the cases go both ways: ${proxied} of ${cases.length} proxied`);
});
