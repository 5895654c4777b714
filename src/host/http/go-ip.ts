/**
 * IP addresses as Go's `net` package reads and compares them, for the NO_PROXY rules of proxy-rules.ts: the kubelet
 * decides with these functions, so postjoin must read "10.0.0.0/8", "::ffff:10.1.2.3" or "010.0.0.1" exactly as they
 * do (test/host/http/proxy-rules-go.test.ts runs Go's own code over the same cases). An address is 16 bytes, IPv4 as
 * ::ffff:a.b.c.d, as `net.ParseIP` returns it.
 */
export type GoIp = Uint8Array;

/** Go's `net.IPNet`: network and mask are 4 bytes for an IPv4 prefix, 16 for an IPv6 one. */
export interface GoIpNet {
  ip: Uint8Array;
  mask: Uint8Array;
}

const V4_IN_V6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
/** Go's dtoi and xtoi stop at this value (0xFFFFFF) and fail. */
const BIG = 0xffffff;

function digits(s: string, base: 10 | 16): { n: number; used: number } | undefined {
  let n = 0;
  let i = 0;
  for (; i < s.length; i++) {
    const d = base === 10 ? (/[0-9]/.test(s[i]!) ? Number(s[i]) : -1) : /[0-9a-fA-F]/.test(s[i]!) ? parseInt(s[i]!, 16) : -1;
    if (d < 0) break;
    n = n * base + d;
    if (n >= BIG) return undefined;
  }
  return i === 0 ? undefined : { n, used: i };
}

/** Go's parseIPv4: four decimal fields of at most 255, none with a leading zero (Go 1.17 on). */
function parseIPv4(s: string): GoIp | undefined {
  const out = new Uint8Array(16);
  out.set(V4_IN_V6);
  let rest = s;
  for (let i = 0; i < 4; i++) {
    if (rest.length === 0) return undefined;
    if (i > 0) {
      if (rest[0] !== '.') return undefined;
      rest = rest.slice(1);
    }
    const d = digits(rest, 10);
    if (!d || d.n > 0xff) return undefined;
    if (d.used > 1 && rest[0] === '0') return undefined;
    rest = rest.slice(d.used);
    out[12 + i] = d.n;
  }
  return rest.length === 0 ? out : undefined;
}

/** Go's parseIPv6: hex groups, one "::", an IPv4 tail in the last 32 bits; no zone. */
function parseIPv6(s: string): GoIp | undefined {
  const ip = new Uint8Array(16);
  let ellipsis = -1;
  let rest = s;
  if (rest.startsWith('::')) {
    ellipsis = 0;
    rest = rest.slice(2);
    if (rest.length === 0) return ip;
  }
  let i = 0;
  while (i < 16) {
    const d = digits(rest, 16);
    if (!d || d.n > 0xffff) return undefined;
    if (d.used < rest.length && rest[d.used] === '.') {
      if (ellipsis < 0 && i !== 12) return undefined;
      if (i + 4 > 16) return undefined;
      const v4 = parseIPv4(rest);
      if (!v4) return undefined;
      ip.set(v4.subarray(12), i);
      rest = '';
      i += 4;
      break;
    }
    ip[i] = d.n >> 8;
    ip[i + 1] = d.n & 0xff;
    i += 2;
    rest = rest.slice(d.used);
    if (rest.length === 0) break;
    if (rest[0] !== ':' || rest.length === 1) return undefined;
    rest = rest.slice(1);
    if (rest[0] === ':') {
      if (ellipsis >= 0) return undefined;
      ellipsis = i;
      rest = rest.slice(1);
      if (rest.length === 0) break;
    }
  }
  if (rest.length !== 0) return undefined;
  if (i < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - i;
    ip.copyWithin(ellipsis + n, ellipsis, i);
    ip.fill(0, ellipsis, ellipsis + n);
  } else if (ellipsis >= 0) return undefined;
  return ip;
}

/** Go's `net.ParseIP`: the first '.' or ':' says which form. */
export function parseIp(s: string): GoIp | undefined {
  for (const c of s) {
    if (c === '.') return parseIPv4(s);
    if (c === ':') return parseIPv6(s);
  }
  return undefined;
}

/** Go's `IP.To4`: the 4 bytes of an IPv4 (or IPv4-mapped) address. */
function to4(ip: Uint8Array): Uint8Array | undefined {
  if (ip.length === 4) return ip;
  return ip.length === 16 && V4_IN_V6.every((b, i) => ip[i] === b) ? ip.subarray(12) : undefined;
}

export function isLoopback(ip: GoIp): boolean {
  const v4 = to4(ip);
  return v4 ? v4[0] === 127 : ip.every((b, i) => b === (i === 15 ? 1 : 0));
}

export function sameIp(a: GoIp, b: GoIp): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Go's `net.ParseCIDR`: "address/bits", IPv4 read first; the network masked, the mask as long as the address. */
export function parseCidr(s: string): GoIpNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const [addr, bits] = [s.slice(0, slash), s.slice(slash + 1)];
  let len = 4;
  let ip = parseIPv4(addr);
  if (!ip) {
    len = 16;
    ip = parseIPv6(addr);
  }
  const d = digits(bits, 10);
  if (!ip || !d || d.used !== bits.length || d.n > len * 8) return undefined;
  const mask = new Uint8Array(len).map((_, i) => (0xff << (8 - Math.min(8, Math.max(0, d.n - i * 8)))) & 0xff);
  const addrBytes = len === 4 ? ip.subarray(12) : ip;
  return { ip: addrBytes.map((b, i) => b & mask[i]!), mask };
}

/** Go's `IPNet.Contains`, IPv4-mapped addresses and 4-in-16 masks included. */
export function cidrContains(net: GoIpNet, ip: GoIp): boolean {
  const nn: Uint8Array = to4(net.ip) ?? net.ip;
  let m = net.mask;
  if (nn.length !== 4 && nn.length !== 16) return false;
  if (m.length === 4 && nn.length !== 4) return false;
  if (m.length === 16 && nn.length === 4) m = m.subarray(12);
  const x = to4(ip) ?? ip;
  if (x.length !== nn.length) return false;
  for (let i = 0; i < x.length; i++) if ((nn[i]! & m[i]!) !== (x[i]! & m[i]!)) return false;
  return true;
}

/** Go's `net.SplitHostPort`: host and port around the last colon, brackets for IPv6; undefined where Go errs. */
export function splitHostPort(hostport: string): { host: string; port: string } | undefined {
  const i = hostport.lastIndexOf(':');
  if (i < 0) return undefined;
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']');
    if (end < 0) return undefined;
    if (end + 1 === hostport.length) return undefined;
    if (end + 1 !== i) return undefined;
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return undefined;
  }
  if (hostport.slice(j).includes('[')) return undefined;
  if (hostport.slice(k).includes(']')) return undefined;
  return { host, port: hostport.slice(i + 1) };
}
