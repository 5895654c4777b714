import { request as httpRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { ProxyServer } from './proxy-rules.js';

/**
 * Requests through an HTTP proxy, as Go's Transport makes them: an https:// target through a CONNECT tunnel (TLS
 * end to end, so the target's certificate is checked as on a direct connection, tls-server-name included); an
 * http:// target as one absolute-form request to the proxy. A proxy URL with user:password sends them as
 * `Proxy-Authorization: Basic`. Built on node:http's own CONNECT support rather than https-proxy-agent, which checks
 * an IP-address target's certificate against "localhost" and hands a refused CONNECT (403, 407) back as if the
 * target had answered it (docs/cluster-handoff.md#proxies says more).
 */

/**
 * The proxy refused the tunnel, or could not be reached. `retryable` follows the error classes of the clients: a
 * proxy that is down or answers 5xx (its upstream failed) may work again; 403 and 407 are configuration.
 */
export class ProxyError extends Error {
  /** The socket's error code (ECONNREFUSED, EAI_AGAIN, …) when the proxy could not be reached; ETIMEDOUT when it did not answer. */
  readonly code?: string;

  constructor(
    message: string,
    readonly retryable: boolean,
    opts: { status?: number; code?: string; cause?: Error } = {},
  ) {
    super(message, opts.cause ? { cause: opts.cause } : undefined);
    this.name = 'ProxyError';
    if (opts.code) this.code = opts.code;
    this.status = opts.status;
  }

  /** The proxy's answer to CONNECT, when it refused. */
  readonly status?: number;
}

export interface TunnelTarget {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
}

/** "proxy http://proxy:3128 (from HTTPS_PROXY)": how every message names it, never with its user or password. */
export const proxyName = (p: ProxyServer) => `proxy ${p.shown} (from ${p.variable})`;

const authority = (t: TunnelTarget) => `${isIP(t.host) === 6 ? `[${t.host}]` : t.host}:${t.port}`;

/** The Proxy-Authorization header Go sends when the proxy URL has a user: "user:password", base64. */
export function proxyAuthorization(p: ProxyServer): Record<string, string> {
  if (p.username === undefined) return {};
  return { 'Proxy-Authorization': `Basic ${Buffer.from(`${p.username}:${p.password ?? ''}`).toString('base64')}` };
}

/** Options that send one request to the proxy itself: its host and port, over TLS when it is an https:// proxy. */
export function toProxy(p: ProxyServer): { request: typeof httpRequest; options: ClientRequestArgs } {
  if (p.protocol !== 'http:' && p.protocol !== 'https:') {
    throw new ProxyError(`${proxyName(p)}: postjoin speaks to http:// and https:// proxies only, not ${p.protocol.replace(/:$/, '')}://`, false);
  }
  const tls = p.protocol === 'https:';
  // The proxy's certificate is checked against the proxy's own name. Left unset, node:https would take the name
  // from the request's Host header, which is the target's (CONNECT kube.example:443); "" means no SNI, and then
  // the identity is checked against the address in `host`.
  return {
    request: tls ? httpsRequest : httpRequest,
    options: { host: p.hostname, port: p.port, agent: false, ...(tls ? { servername: isIP(p.hostname) ? '' : p.hostname } : {}) },
  };
}

function unreachable(p: ProxyServer, target: TunnelTarget, e: NodeJS.ErrnoException): ProxyError {
  const why = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code ? `${e.code}: ${e.message}` : e.message;
  return new ProxyError(`cannot reach ${proxyName(p)} to CONNECT to ${authority(target)}: ${why}`, true, { ...(e.code ? { code: e.code } : {}), cause: e });
}

function refused(p: ProxyServer, target: TunnelTarget, res: IncomingMessage): ProxyError {
  const status = res.statusCode ?? 0;
  const hint = status === 407 ? ': the proxy wants credentials; give them in the proxy URL (http://user:password@host:port)' : '';
  return new ProxyError(`${proxyName(p)} answered CONNECT to ${authority(target)} with HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}${hint}`, status >= 500, { status });
}

/** A CONNECT tunnel to `target`: a socket that carries bytes to it, once the proxy has answered 2xx. */
export function openTunnel(p: ProxyServer, target: TunnelTarget, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let proxy: ReturnType<typeof toProxy>;
    try {
      proxy = toProxy(p);
    } catch (err) {
      return reject(err);
    }
    const to = authority(target);
    const req = proxy.request({ ...proxy.options, method: 'CONNECT', path: to, headers: { Host: to, ...proxyAuthorization(p) } });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (e: Error) => settle(() => (req.destroy(), reject(e)));
    const timer = setTimeout(() => fail(new ProxyError(`${proxyName(p)} did not answer CONNECT to ${to} within ${opts.timeoutMs} ms`, true, { code: 'ETIMEDOUT' })), opts.timeoutMs);
    const onAbort = () => fail(new ProxyError(`CONNECT to ${to} through ${proxyName(p)}: aborted`, false));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    // node:http hands every answer to a CONNECT, whatever its status, to 'connect' with the raw socket.
    req.on('connect', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
        if (head.length > 0) socket.unshift(head);
        settle(() => resolve(socket));
      } else {
        socket.destroy();
        settle(() => reject(refused(p, target, res)));
      }
    });
    req.on('error', (e: NodeJS.ErrnoException) => fail(unreachable(p, target, e)));
    req.end();
  });
}

/** TLS to the target through a tunnel, checked as a direct connection would be: SNI, identity and CA as given. */
export function tlsThrough(tunnel: Socket, target: TunnelTarget, tls: ConnectionOptions): TLSSocket {
  // An IP address gets no SNI (Node refuses one) but its identity is still checked against that address: `host`
  // is what checkServerIdentity compares with when no servername is set.
  const servername = tls.servername ?? (isIP(target.host) ? undefined : target.host);
  return tlsConnect({ ...tls, socket: tunnel, host: target.host, ...(servername ? { servername } : {}) });
}

/**
 * The `createConnection` of a node:http(s) request that goes through the proxy (with no agent): the tunnel, then TLS
 * for an https:// target. Errors reach the request as its 'error', ProxyError for the proxy's part.
 */
export function tunnelledConnection(
  p: ProxyServer,
  target: TunnelTarget,
  opts: { timeoutMs: number; signal?: AbortSignal; tls?: ConnectionOptions },
): NonNullable<ClientRequestArgs['createConnection']> {
  return (_options, done) => {
    openTunnel(p, target, opts).then(
      (tunnel) => done(null, opts.tls ? tlsThrough(tunnel, target, opts.tls) : tunnel),
      // node:http reads only the error when there is one.
      (err: Error) => done(err, undefined as unknown as Socket),
    );
    return undefined;
  };
}
