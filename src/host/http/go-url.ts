import { quoted } from '../../base/shown-text.js';

/**
 * The part of Go's `url.Parse` that reads a proxy variable's value (`http://user:pw@proxy:3128`, `proxy:3128`,
 * `10.0.0.5:3128`), so that postjoin takes the same proxy from HTTPS_PROXY as the kubelet does, or ignores the same
 * value. Only what decides the scheme, the host, the port and the user is kept; paths, queries and fragments are
 * read for their errors alone. Checked against Go by test/host/http/proxy-rules-go.test.ts.
 */
export interface GoUrl {
  /** Lower-cased, as Go does. */
  scheme: string;
  /** Go's URL.Host: host[:port], IPv6 in brackets, percent-escapes decoded. */
  host: string;
  user?: { username: string; password?: string };
}

export type GoUrlResult = { url: GoUrl } | { error: string };

const hex = (c: string | undefined) => c !== undefined && /^[0-9a-fA-F]$/.test(c);
/** ASCII bytes Go's URL parser allows in a host as they are (`shouldEscape(c, encodeHost)` is false). */
const HOST_CHARS = /^[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"%]$/;
const USERINFO_CHARS = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]$/;

function unescape(s: string, mode: 'host' | 'user' | 'path'): { text: string } | { error: string } {
  const bytes: number[] = [];
  const utf8 = Buffer.from(s, 'utf8');
  for (let i = 0; i < utf8.length; ) {
    const b = utf8[i]!;
    if (b === 0x25) {
      const h1 = String.fromCharCode(utf8[i + 1] ?? 0);
      const h2 = String.fromCharCode(utf8[i + 2] ?? 0);
      if (i + 2 >= utf8.length || !hex(h1) || !hex(h2)) return { error: `invalid URL escape "${utf8.subarray(i, i + 3).toString()}"` };
      if (mode === 'host' && parseInt(h1, 16) < 8 && `${h1}${h2}` !== '25') return { error: `invalid URL escape "%${h1}${h2}"` };
      bytes.push(parseInt(h1 + h2, 16));
      i += 3;
    } else {
      if (mode === 'host' && b < 0x80 && !HOST_CHARS.test(String.fromCharCode(b))) return { error: `invalid character ${quoted(String.fromCharCode(b))} in host name` };
      bytes.push(b);
      i++;
    }
  }
  return { text: Buffer.from(bytes).toString('utf8') };
}

/** ":" followed by digits only, or nothing. */
export const validOptionalPort = (p: string) => p === '' || /^:[0-9]*$/.test(p);

function parseHost(host: string): { host: string } | { error: string } {
  if (host.startsWith('[')) {
    const i = host.lastIndexOf(']');
    if (i < 0) return { error: "missing ']' in host" };
    if (!validOptionalPort(host.slice(i + 1))) return { error: `invalid port ${quoted(host.slice(i + 1))} after host` };
    // A zone (%25…) is not valid in an address postjoin could connect to; Go reads it, so it is kept as text.
    const zone = host.slice(0, i).indexOf('%25');
    if (zone >= 0) return { host: host.slice(0, zone) + decodeURIComponentSafe(host.slice(zone, i)) + host.slice(i) };
  } else {
    const i = host.lastIndexOf(':');
    if (i >= 0 && !validOptionalPort(host.slice(i))) return { error: `invalid port ${quoted(host.slice(i))} after host` };
  }
  const u = unescape(host, 'host');
  return 'error' in u ? u : { host: u.text };
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseAuthority(authority: string): { host: string; user?: GoUrl['user'] } | { error: string } {
  const at = authority.lastIndexOf('@');
  const h = parseHost(at < 0 ? authority : authority.slice(at + 1));
  if ('error' in h || at < 0) return h;
  const userinfo = authority.slice(0, at);
  if (![...userinfo].every((c) => USERINFO_CHARS.test(c))) return { error: 'net/url: invalid userinfo' };
  const colon = userinfo.indexOf(':');
  const name = unescape(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user');
  if ('error' in name) return name;
  if (colon < 0) return { host: h.host, user: { username: name.text } };
  const password = unescape(userinfo.slice(colon + 1), 'user');
  if ('error' in password) return password;
  return { host: h.host, user: { username: name.text, password: password.text } };
}

/** Go's getScheme: letters, then letters, digits, "+", "-", "." up to the first ":". */
function getScheme(raw: string): { scheme: string; rest: string } | { error: string } {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) return { scheme: '', rest: raw };
      continue;
    }
    if (c === ':') return i === 0 ? { error: 'missing protocol scheme' } : { scheme: raw.slice(0, i), rest: raw.slice(i + 1) };
    return { scheme: '', rest: raw };
  }
  return { scheme: '', rest: raw };
}

/** Go's `url.Parse`, for what a proxy URL needs. */
export function parseGoUrl(raw: string): GoUrlResult {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return { error: 'net/url: invalid control character in URL' };
  const hash = raw.indexOf('#');
  const withoutFragment = hash < 0 ? raw : raw.slice(0, hash);
  const s = getScheme(withoutFragment);
  if ('error' in s) return s;
  const scheme = s.scheme.toLowerCase();
  let rest = s.rest;
  rest = rest.endsWith('?') && rest.split('?').length === 2 ? rest.slice(0, -1) : rest.split('?')[0]!;
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { url: { scheme, host: '' } };
    if (rest.split('/')[0]!.includes(':')) return { error: 'first path segment in URL cannot contain colon' };
  }
  let url: GoUrl = { scheme, host: '' };
  if ((scheme !== '' || !rest.startsWith('///')) && rest.startsWith('//')) {
    let authority = rest.slice(2);
    rest = '';
    const slash = authority.indexOf('/');
    if (slash >= 0) [authority, rest] = [authority.slice(0, slash), authority.slice(slash)];
    const a = parseAuthority(authority);
    if ('error' in a) return a;
    url = { scheme, host: a.host, ...(a.user ? { user: a.user } : {}) };
  }
  const path = unescape(rest, 'path');
  return 'error' in path ? path : { url };
}

/** Go's URL.Hostname() and Port(): the host without brackets, and a numeric port or "". */
export function hostAndPort(host: string): { hostname: string; port: string } {
  let hostname = host;
  let port = '';
  const colon = host.lastIndexOf(':');
  if (colon >= 0 && validOptionalPort(host.slice(colon))) [hostname, port] = [host.slice(0, colon), host.slice(colon + 1)];
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  return { hostname, port };
}
