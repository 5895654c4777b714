import { domainToASCII } from 'node:url';
import { cidrContains, isLoopback, parseCidr, parseIp, sameIp, splitHostPort, type GoIp, type GoIpNet } from './go-ip.js';
import { hostAndPort, parseGoUrl } from './go-url.js';

/**
 * Which proxy a request takes, by the kubelet's rules: Go's `http.ProxyFromEnvironment` (golang.org/x/net/http/
 * httpproxy), as a node behind a proxy is set up for the kubelet and containerd, so that one set of HTTPS_PROXY,
 * HTTP_PROXY and NO_PROXY values means the same thing to all three. In short:
 * - https:// URLs take HTTPS_PROXY, http:// URLs HTTP_PROXY; the upper-case name first, the lower-case one when the
 *   upper-case one is unset or empty. A value without a scheme is http://; one Go cannot parse is ignored (no proxy).
 * - `localhost` and loopback addresses never take a proxy.
 * - NO_PROXY, comma-separated: `*` (nothing is proxied); an IP address or a CIDR, for IP-address hosts; a name, which
 *   matches itself and its subdomains (`.name` and `*.name`: subdomains only); any of these with `:port`, which then
 *   matches that port only. Names never match an IP-address host (CVE-2025-22870, fixed in Go 1.23.7/1.24.1 and the
 *   kubelets built with them; Go 1.19's copy still let "0.1" match 10.0.0.1).
 * - With REQUEST_METHOD set (a CGI environment), HTTP_PROXY is refused for http:// URLs (golang.org/s/cgihttpproxy).
 * Pure logic: test/host/http/proxy-rules.test.ts, and proxy-rules-go.test.ts compares it with Go's own code.
 */
export interface ProxyServer {
  /** http: or https: (the proxy itself may speak TLS); anything else (socks5) is refused when used. */
  protocol: string;
  hostname: string;
  port: number;
  /** Go's URL.Host as read, for comparing with Go. */
  goHost: string;
  username?: string;
  password?: string;
  /** The variable it came from, as set: HTTPS_PROXY, https_proxy, HTTP_PROXY or http_proxy. */
  variable: string;
  /** For messages: scheme://host:port, never the user or password. */
  shown: string;
}

export type ProxyChoice = { direct: true } | { proxy: ProxyServer } | { refused: string };

/** A request's target as the decision needs it (a URL, or what an agent sees: protocol, host, port). */
export interface ProxyTarget {
  protocol: string;
  hostname: string;
  /** "" for the scheme's default. */
  port: string;
}

export interface ProxyRules {
  choose(target: ProxyTarget): ProxyChoice;
  /** Whether any proxy variable is set at all (with none, every choice is direct). */
  readonly any: boolean;
}

type Matcher = (host: string, port: string, ip: GoIp | undefined) => boolean;

const DEFAULT_PORTS: Record<string, string> = { http: '80', https: '443', socks5: '1080' };

/** Go's getEnvAny: the first of the names that is set and not empty. */
function envAny(env: NodeJS.ProcessEnv, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value) return { name, value };
  }
  return undefined;
}

/** Go's parseProxy (x/net since 2023): a value without a scheme or a host is tried again as http://VALUE. */
export function parseProxyValue(value: string, variable: string): ProxyServer | undefined {
  let parsed = parseGoUrl(value);
  if ('error' in parsed || parsed.url.scheme === '' || parsed.url.host === '') {
    const again = parseGoUrl(`http://${value}`);
    if (!('error' in again)) parsed = again;
  }
  if ('error' in parsed) return undefined;
  const { scheme, host, user } = parsed.url;
  const { hostname, port } = hostAndPort(host);
  const portText = port || DEFAULT_PORTS[scheme] || '';
  const shownHost = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    protocol: `${scheme}:`,
    hostname,
    port: Number(portText),
    goHost: host,
    ...(user ? { username: user.username, ...(user.password !== undefined ? { password: user.password } : {}) } : {}),
    variable,
    shown: `${scheme}://${shownHost}${portText ? `:${portText}` : ''}`,
  };
}

/** Go's strings.TrimSpace: Unicode White_Space (which, unlike String.prototype.trim, has U+0085 and not U+FEFF). */
const GO_SPACE = '\t\n\v\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
export function goTrimSpace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && GO_SPACE.includes(s[a]!)) a++;
  while (b > a && GO_SPACE.includes(s[b - 1]!)) b--;
  return s.slice(a, b);
}

/** A name as IDNA ASCII (punycode), as Go's idna.Lookup.ToASCII; unchanged when it is ASCII or cannot be mapped. */
function idnaAscii(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(name)) return name;
  return domainToASCII(name) || name;
}

/** Go's config.init: the NO_PROXY entries as IP and domain matchers. */
function noProxyMatchers(noProxy: string): { ip: Matcher[]; domain: Matcher[] } {
  const ip: Matcher[] = [];
  const domain: Matcher[] = [];
  for (const raw of noProxy.split(',')) {
    const p = goTrimSpace(raw).toLowerCase();
    if (p === '') continue;
    if (p === '*') return { ip: [() => true], domain: [() => true] };
    const net: GoIpNet | undefined = parseCidr(p);
    if (net) {
      ip.push((_h, _p, addr) => addr !== undefined && cidrContains(net, addr));
      continue;
    }
    let phost = p;
    let pport = '';
    const split = splitHostPort(p);
    if (split) {
      if (split.host === '') continue;
      [phost, pport] = [split.host, split.port];
      if (phost.startsWith('[') && phost.endsWith(']')) phost = phost.slice(1, -1);
    }
    const entryIp = parseIp(phost);
    if (entryIp) {
      ip.push((_h, port, addr) => addr !== undefined && sameIp(entryIp, addr) && (pport === '' || pport === port));
      continue;
    }
    if (phost === '') continue;
    if (phost.startsWith('*.')) phost = phost.slice(1);
    const matchHost = !phost.startsWith('.');
    if (matchHost) phost = `.${phost}`;
    const suffix = idnaAscii(phost);
    domain.push((host, port, addr) => {
      if (addr !== undefined) return false;
      return (host.endsWith(suffix) || (matchHost && host === suffix.slice(1))) && (pport === '' || pport === port);
    });
  }
  return { ip, domain };
}

/** The rules of one environment (the Host reads the process's once, as Go does). */
export function proxyRulesFrom(env: NodeJS.ProcessEnv): ProxyRules {
  const httpVar = envAny(env, 'HTTP_PROXY', 'http_proxy');
  const httpsVar = envAny(env, 'HTTPS_PROXY', 'https_proxy');
  const httpProxy = httpVar && parseProxyValue(httpVar.value, httpVar.name);
  const httpsProxy = httpsVar && parseProxyValue(httpsVar.value, httpsVar.name);
  const cgi = Boolean(env.REQUEST_METHOD);
  const matchers = noProxyMatchers(envAny(env, 'NO_PROXY', 'no_proxy')?.value ?? '');

  /** Go's useProxy, on the target's canonical host and port. */
  function useProxy(target: ProxyTarget): boolean {
    const scheme = target.protocol.replace(/:$/, '');
    const hostname = idnaAscii(target.hostname.replace(/^\[(.*)\]$/, '$1'));
    const port = target.port || DEFAULT_PORTS[scheme] || '';
    if (hostname === 'localhost') return false;
    const addr = parseIp(hostname);
    if (addr && isLoopback(addr)) return false;
    const host = goTrimSpace(hostname).toLowerCase();
    if (addr && matchers.ip.some((m) => m(host, port, addr))) return false;
    return !matchers.domain.some((m) => m(host, port, addr));
  }

  return {
    any: Boolean(httpVar || httpsVar),
    choose(target) {
      const scheme = target.protocol.replace(/:$/, '');
      const proxy = scheme === 'https' ? httpsProxy : scheme === 'http' ? httpProxy : undefined;
      if (!proxy) return { direct: true };
      if (scheme === 'http' && cgi) return { refused: 'refusing to use HTTP_PROXY value in CGI environment (REQUEST_METHOD is set); see golang.org/s/cgihttpproxy' };
      return useProxy(target) ? { proxy } : { direct: true };
    },
  };
}
