import { request as httpRequest, type Agent } from 'node:http';
import { request as httpsRequest } from 'node:https';

export type HttpAnswer = { status: number; body: string } | { error: string };

const BODY_LIMIT = 256;

/**
 * One GET with its own timeout, for probes and waits: never throws, never follows redirects, and keeps only
 * the start of the body. Without an agent no connection is kept alive, so nothing holds the process open.
 */
export function httpGet(url: string, opts: { signal: AbortSignal; timeoutMs: number; agent?: Agent }): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let req: ReturnType<typeof httpRequest>;
    try {
      const request = url.startsWith('https:') ? httpsRequest : httpRequest;
      req = request(url, { method: 'GET', signal: opts.signal, timeout: opts.timeoutMs, agent: opts.agent ?? false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < BODY_LIMIT) body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.slice(0, BODY_LIMIT) }));
        res.on('error', (e) => resolve({ error: e.message }));
      });
    } catch (err) {
      return resolve({ error: (err as Error).message });
    }
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: describeNetError(e) }));
    req.end();
  });
}

function describeNetError(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ABORT_ERR') return 'aborted';
  return e.code ? `${e.code}: ${e.message}` : e.message;
}
