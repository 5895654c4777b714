import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { routeFor } from './proxy-env.js';
import type { ProxyChoice, ProxyRules } from './proxy-rules.js';

/** An answer; `via` names the proxy it came through, whose own answer it may be (a 502, a 403). */
export type HttpAnswer = { status: number; body: string; via?: string } | { error: string };

const BODY_LIMIT = 256;

export interface HttpGetOptions {
  signal: AbortSignal;
  timeoutMs: number;
  agent?: Agent;
  /** Never through a proxy: the kubelet healthz probe asks the node's own kubelet. */
  direct?: boolean;
  /** The proxy rules to follow; by default the process's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY). */
  proxies?: ProxyRules;
}

/**
 * One GET with its own timeout, for probes and waits: never throws, never follows redirects, and keeps only
 * the start of the body. Without an agent no connection is kept alive, so nothing holds the process open.
 * `timeoutMs` is a deadline for the whole request (connect, headers and body), not an idle timeout: a server
 * that trickles a byte now and then is never idle, and must not hold a probe past its time. Without an agent it
 * goes through a proxy where the proxy variables say so (proxy-rules.ts).
 */
export async function httpGet(url: string, opts: HttpGetOptions): Promise<HttpAnswer> {
  let route: ProxyChoice = { direct: true };
  if (!opts.direct) {
    try {
      route = await routeFor(new URL(url), opts.proxies);
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  if ('refused' in route) return { error: route.refused };
  const through = 'proxy' in route ? await import('./proxy-via.js').then((m) => m.requestVia(route.proxy, url, opts)) : undefined;
  if (through && 'error' in through) return through;
  return new Promise((resolve) => {
    let settled = false;
    let req: ReturnType<typeof httpRequest> | undefined;
    const deadline = setTimeout(() => settle({ error: `no complete answer within ${opts.timeoutMs} ms` }), opts.timeoutMs);
    function settle(answer: HttpAnswer): void {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(answer);
      // Unfinished (deadline, error): drop the connection, so neither it nor a kept-alive socket lingers.
      if ('error' in answer) req?.destroy();
    }
    try {
      const onResponse = (res: IncomingMessage) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < BODY_LIMIT) body += c;
        });
        res.on('end', () => settle({ status: res.statusCode ?? 0, body: body.slice(0, BODY_LIMIT), ...(through ? { via: through.via } : {}) }));
        res.on('error', (e) => settle({ error: e.message }));
        res.on('close', () => {
          if (!res.complete) settle({ error: opts.signal.aborted ? 'aborted' : 'the connection closed before the answer was complete' });
        });
      };
      if (through) req = through.send(onResponse);
      else {
        const request = url.startsWith('https:') ? httpsRequest : httpRequest;
        req = request(url, { method: 'GET', signal: opts.signal, agent: opts.agent ?? false }, onResponse);
      }
    } catch (err) {
      return settle({ error: (err as Error).message });
    }
    req.on('error', (e: NodeJS.ErrnoException) => settle({ error: through ? through.describe(e) : describeNetError(e) }));
    req.end();
  });
}

function describeNetError(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ABORT_ERR') return 'aborted';
  return e.code ? `${e.code}: ${e.message}` : e.message;
}

/** GETs that may share one connection: the readiness probe's polls of kubelet healthz. */
export interface HttpGetter {
  get(url: string, opts: { signal: AbortSignal; timeoutMs: number }): Promise<HttpAnswer>;
  /** Drops the kept-alive connection, so nothing holds the process open. */
  close(): void;
}

/**
 * GETs over one connection kept alive between them (http: only): no handshake and no TIME_WAIT socket per poll.
 * A server that restarts closes it, and the next GET connects afresh.
 */
export function keptAliveGetter(url: string): HttpGetter {
  const agent = url.startsWith('http:') ? new Agent({ keepAlive: true, maxSockets: 1 }) : undefined;
  return {
    get: (u, opts) => httpGet(u, { ...opts, direct: true, ...(agent ? { agent } : {}) }),
    close: () => agent?.destroy(),
  };
}
