import { request } from 'node:http';
import type { Observation, Probe } from './probe.js';

const REQUEST_TIMEOUT_MS = 2000;

/** kubelet is ready when GET healthz answers 200 with body `ok`. */
export function kubeletHealthzProbe(url: string): Probe {
  return {
    name: 'kubelet healthz',
    check: (signal) => getHealthz(url, signal),
  };
}

export function getHealthz(url: string, signal: AbortSignal): Promise<Observation> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', signal, timeout: REQUEST_TIMEOUT_MS, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 256) body += c;
      });
      res.on('end', () => {
        const ok = res.statusCode === 200 && body.trim() === 'ok';
        resolve({ ready: ok, detail: ok ? 'ok' : `HTTP ${res.statusCode} ${JSON.stringify(body.trim().slice(0, 80))}` });
      });
      res.on('error', (e) => resolve({ ready: false, detail: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ ready: false, detail: describeNetError(e) }));
    req.end();
  });
}

function describeNetError(e: NodeJS.ErrnoException): string {
  if (e.code === 'ECONNREFUSED') return 'connection refused';
  if (e.code === 'ABORT_ERR') return 'aborted';
  return e.code ? `${e.code}: ${e.message}` : e.message;
}
