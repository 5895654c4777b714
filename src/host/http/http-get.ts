import { Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type HttpAnswer = { status: number; body: string } | { error: string };

const BODY_LIMIT = 256;

/**
 * One GET with its own timeout, for probes and waits: never throws, never follows redirects, and keeps only
 * the start of the body. Without an agent no connection is kept alive, so nothing holds the process open.
 * `timeoutMs` is a deadline for the whole request (connect, headers and body), not an idle timeout: a server
 * that trickles a byte now and then is never idle, and must not hold a probe past its time.
 */
export function httpGet(url: string, opts: { signal: AbortSignal; timeoutMs: number; agent?: Agent }): Promise<HttpAnswer> {
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
      const request = url.startsWith('https:') ? httpsRequest : httpRequest;
      req = request(url, { method: 'GET', signal: opts.signal, agent: opts.agent ?? false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < BODY_LIMIT) body += c;
        });
        res.on('end', () => settle({ status: res.statusCode ?? 0, body: body.slice(0, BODY_LIMIT) }));
        res.on('error', (e) => settle({ error: e.message }));
        res.on('close', () => {
          if (!res.complete) settle({ error: opts.signal.aborted ? 'aborted' : 'the connection closed before the answer was complete' });
        });
      });
    } catch (err) {
      return settle({ error: (err as Error).message });
    }
    req.on('error', (e: NodeJS.ErrnoException) => settle({ error: describeNetError(e) }));
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
    get: (u, opts) => httpGet(u, { ...opts, ...(agent ? { agent } : {}) }),
    close: () => agent?.destroy(),
  };
}
