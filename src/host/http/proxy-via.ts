import type { ClientRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ProxyServer } from './proxy-rules.js';
import { proxyAuthorization, proxyName, toProxy, tunnelledConnection } from './proxy-tunnel.js';

/** One GET through a proxy, for http-get.ts: how to send it, and how to name what went wrong. */
export interface ViaProxy {
  send(onResponse: (res: IncomingMessage) => void): ClientRequest;
  describe(e: NodeJS.ErrnoException): string;
  /** "proxy http://proxy:3128 (from HTTP_PROXY)". */
  via: string;
}

/**
 * An https:// URL goes through a CONNECT tunnel (TLS end to end); an http:// URL is one absolute-form request to
 * the proxy (`GET http://host/path`, Host: the target), as Go sends it.
 */
export function requestVia(proxy: ProxyServer, url: string, opts: { signal: AbortSignal; timeoutMs: number }): ViaProxy | { error: string } {
  const u = new URL(url);
  const via = proxyName(proxy);
  const describe = (e: NodeJS.ErrnoException) => {
    if (e.name === 'ProxyError') return e.message;
    const what = e.code === 'ECONNREFUSED' ? 'connection refused' : e.code === 'ABORT_ERR' ? 'aborted' : e.code ? `${e.code}: ${e.message}` : e.message;
    return `${what} (through ${via})`;
  };
  if (u.protocol === 'https:') {
    const target = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 443) };
    const createConnection = tunnelledConnection(proxy, target, { timeoutMs: opts.timeoutMs, signal: opts.signal, tls: {} });
    return { via, describe, send: (onResponse) => httpsRequest(url, { method: 'GET', signal: opts.signal, createConnection }, onResponse) };
  }
  let to: ReturnType<typeof toProxy>;
  try {
    to = toProxy(proxy);
  } catch (err) {
    return { error: (err as Error).message };
  }
  const headers = { Host: u.host, ...proxyAuthorization(proxy) };
  const describeDirect = (e: NodeJS.ErrnoException) =>
    e.code === 'ECONNREFUSED' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN' || e.code === 'ECONNRESET' ? `cannot reach ${via}: ${describe(e).replace(` (through ${via})`, '')}` : describe(e);
  return {
    via,
    describe: describeDirect,
    send: (onResponse) => to.request({ ...to.options, method: 'GET', path: u.href, headers, signal: opts.signal }, onResponse),
  };
}
