// The proxy decision's rules, one by one, with plain objects (Go's own code is compared in proxy-rules-go.test.ts).
import t from 'tap';
import { cidrContains, isLoopback, parseCidr, parseIp } from '../../../src/host/http/go-ip.js';
import { parseGoUrl } from '../../../src/host/http/go-url.js';
import { goTrimSpace, parseProxyValue, proxyRulesFrom, type ProxyChoice } from '../../../src/host/http/proxy-rules.js';

const choose = (env: NodeJS.ProcessEnv, url: string): ProxyChoice => {
  const u = new URL(url);
  return proxyRulesFrom(env).choose({ protocol: u.protocol, hostname: u.hostname, port: u.port });
};
const via = (c: ProxyChoice) => ('proxy' in c ? `${c.proxy.shown} (${c.proxy.variable})` : 'direct' in c ? 'direct' : `refused: ${c.refused}`);
const P = 'http://proxy.corp:3128';

t.test('which variable for which scheme, upper case first', async (t) => {
  t.equal(via(choose({ HTTPS_PROXY: P }, 'https://a.example/')), 'http://proxy.corp:3128 (HTTPS_PROXY)');
  t.equal(via(choose({ HTTPS_PROXY: P }, 'http://a.example/')), 'direct', 'https_proxy is not used for http://');
  t.equal(via(choose({ HTTP_PROXY: P }, 'https://a.example/')), 'direct', 'nor HTTP_PROXY for https:// (unlike curl)');
  t.equal(via(choose({ HTTP_PROXY: P }, 'http://a.example/')), 'http://proxy.corp:3128 (HTTP_PROXY)');
  t.equal(via(choose({ HTTPS_PROXY: 'http://upper:1', https_proxy: 'http://lower:2' }, 'https://a.example/')), 'http://upper:1 (HTTPS_PROXY)');
  t.equal(via(choose({ HTTPS_PROXY: '', https_proxy: 'http://lower:2' }, 'https://a.example/')), 'http://lower:2 (https_proxy)', 'an empty upper-case value counts as unset');
  t.equal(via(choose({ NO_PROXY: '', no_proxy: 'a.example', HTTPS_PROXY: P }, 'https://a.example/')), 'direct', 'so does an empty NO_PROXY');
  t.equal(via(choose({ NO_PROXY: 'b.example', no_proxy: 'a.example', HTTPS_PROXY: P }, 'https://a.example/')), 'http://proxy.corp:3128 (HTTPS_PROXY)');
  t.notOk(proxyRulesFrom({}).any, 'no variable, no proxy');
  t.ok(proxyRulesFrom({ http_proxy: P }).any);
});

t.test('localhost and loopback are never proxied, whatever NO_PROXY says', async (t) => {
  for (const u of ['https://localhost/', 'https://localhost:6443/', 'https://127.0.0.1/', 'https://127.200.0.1:10248/', 'https://[::1]/', 'https://[::ffff:127.0.0.1]/']) {
    t.equal(via(choose({ HTTPS_PROXY: P }, u)), 'direct', u);
  }
  t.equal(via(choose({ HTTP_PROXY: P }, 'http://169.254.169.254/latest/api/token')), 'http://proxy.corp:3128 (HTTP_PROXY)', 'link-local is not loopback: IMDS is kept off the proxy by its own client');
});

t.test('NO_PROXY entries', async (t) => {
  const cases: [string, string, string][] = [
    ['*', 'https://a.example/', 'direct'],
    ['a.example', 'https://a.example/', 'direct'],
    ['a.example', 'https://x.a.example/', 'direct'],
    ['a.example', 'https://ba.example/', 'proxy'],
    ['.a.example', 'https://a.example/', 'proxy'],
    ['.a.example', 'https://x.a.example/', 'direct'],
    ['*.a.example', 'https://a.example/', 'proxy'],
    ['*.a.example', 'https://x.a.example/', 'direct'],
    ['A.EXAMPLE', 'https://a.example/', 'direct'],
    ['  a.example  ', 'https://a.example/', 'direct'],
    ['\u00a0a.example\u0085', 'https://a.example/', 'direct'],
    ['a.example:443', 'https://a.example/', 'direct'],
    ['a.example:443', 'https://a.example:8443/', 'proxy'],
    ['a.example:8443', 'https://a.example:8443/', 'direct'],
    ['b.example, a.example', 'https://a.example/', 'direct'],
    ['10.0.0.1', 'https://10.0.0.1/', 'direct'],
    ['10.0.0.1:443', 'https://10.0.0.1/', 'direct'],
    ['10.0.0.1:80', 'https://10.0.0.1/', 'proxy'],
    ['10.0.0.0/8', 'https://10.20.30.40:6443/', 'direct'],
    ['10.0.0.0/8', 'https://11.0.0.1/', 'proxy'],
    ['10.0.0.0/8', 'https://[::ffff:10.0.0.1]/', 'direct'],
    ['::ffff:10.0.0.0/104', 'https://10.9.9.9/', 'direct'],
    ['::/0', 'https://10.0.0.1/', 'proxy'],
    ['2001:db8::/32', 'https://[2001:db8::7]/', 'direct'],
    ['[2001:db8::7]:443', 'https://[2001:db8::7]/', 'direct'],
    ['0.1', 'https://10.0.0.1/', 'proxy'],
    ['1', 'https://10.0.0.1/', 'proxy'],
    ['010.0.0.1', 'https://10.0.0.1/', 'proxy'],
    ['10.0.0.0/33', 'https://10.0.0.1/', 'proxy'],
    ['bücher.example', 'https://xn--bcher-kva.example/', 'direct'],
    ['.xn--bcher-kva.example', 'https://www.bücher.example/', 'direct'],
    [':443', 'https://a.example/', 'proxy'],
  ];
  for (const [noProxy, url, expected] of cases) {
    const c = choose({ HTTPS_PROXY: P, NO_PROXY: noProxy }, url);
    t.equal('proxy' in c ? 'proxy' : 'direct', expected, `NO_PROXY=${JSON.stringify(noProxy)}, ${url}`);
  }
});

t.test('a CGI environment refuses HTTP_PROXY for http:// only', async (t) => {
  t.match(via(choose({ HTTP_PROXY: P, REQUEST_METHOD: 'GET' }, 'http://a.example/')), /^refused: refusing to use HTTP_PROXY value in CGI environment/);
  t.equal(via(choose({ HTTPS_PROXY: P, REQUEST_METHOD: 'GET' }, 'https://a.example/')), 'http://proxy.corp:3128 (HTTPS_PROXY)');
});

t.test('proxy values as Go reads them', async (t) => {
  const shown = (v: string) => {
    const p = parseProxyValue(v, 'HTTPS_PROXY');
    return p && { shown: p.shown, hostname: p.hostname, port: p.port, username: p.username, password: p.password };
  };
  t.same(shown('proxy.corp:3128'), { shown: 'http://proxy.corp:3128', hostname: 'proxy.corp', port: 3128, username: undefined, password: undefined }, 'no scheme: http://');
  t.same(shown('10.0.0.5:3128')?.shown, 'http://10.0.0.5:3128');
  t.same(shown('[fd00::5]:3128'), { shown: 'http://[fd00::5]:3128', hostname: 'fd00::5', port: 3128, username: undefined, password: undefined });
  t.same(shown('https://proxy.corp')?.shown, 'https://proxy.corp:443', 'https:// proxies default to 443');
  t.same(shown('proxy')?.shown, 'http://proxy:80');
  t.same(shown('http://us%3Aer:p%40ss@proxy.corp:3128'), { shown: 'http://proxy.corp:3128', hostname: 'proxy.corp', port: 3128, username: 'us:er', password: 'p@ss' }, 'user and password are unescaped and never shown');
  t.same(shown('user:pw@proxy.corp:3128')?.username, 'user');
  t.same(shown('socks5://proxy:1080')?.shown, 'socks5://proxy:1080', 'kept (and refused when used)');
  t.equal(shown('%zz'), undefined, 'a value Go cannot parse is ignored');
  t.equal(shown('http://pro xy:3128')?.shown, 'http://http:80', 'Go\'s retry reads "http:" as the host of http://http://pro xy:3128, and so does postjoin');
  t.equal(via(choose({ HTTPS_PROXY: '%zz' }, 'https://a.example/')), 'direct', 'and then the request goes direct, as the kubelet\'s would');
  t.same(parseGoUrl('http://[fd00::5'), { error: "missing ']' in host" });
  t.same(parseGoUrl('10.0.0.5:3128'), { error: 'first path segment in URL cannot contain colon' });
  t.same(parseGoUrl('proxy.corp:3128'), { url: { scheme: 'proxy.corp', host: '' } }, 'Go reads "proxy.corp" as a scheme here, hence the retry with http://');
});

t.test("Go's IP forms", async (t) => {
  t.same(parseIp('10.0.0.1'), parseIp('::ffff:10.0.0.1'));
  t.equal(parseIp('010.0.0.1'), undefined, 'leading zeros are refused');
  t.equal(parseIp('10.0.0'), undefined);
  t.equal(parseIp('1::2::3'), undefined);
  t.equal(parseIp('fe80::1%eth0'), undefined, 'no zones');
  t.ok(isLoopback(parseIp('127.1.2.3')!));
  t.notOk(isLoopback(parseIp('::2')!));
  t.ok(cidrContains(parseCidr('::ffff:0:0/96')!, parseIp('8.8.8.8')!), '::ffff:0:0/96 holds every IPv4 address, as in Go');
  t.notOk(cidrContains(parseCidr('::/0')!, parseIp('8.8.8.8')!), '::/0 holds no IPv4 address, as in Go');
  t.equal(goTrimSpace('\ufeffx\u0085'), '\ufeffx', 'Go does not trim U+FEFF, and does trim U+0085');
});
