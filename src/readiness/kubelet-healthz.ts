import { quoted } from '../base/shown-text.js';
import type { Host } from '../host/host.js';
import type { HttpGetter } from '../host/http/http-get.js';
import type { Observation, Probe } from './probe.js';

const REQUEST_TIMEOUT_MS = 2000;

/**
 * healthz can only be polled, so this interval is most of the readiness reaction (healthz turning ok to the
 * first task's spawn): on average half of it. 25 ms is about 40 loopback requests a second over one kept-alive
 * connection while the gate waits, typically seconds after nodeadm-run has restarted kubelet.
 */
export const HEALTHZ_POLL_INTERVAL_MS = 25;

/** kubelet is ready when GET healthz answers 200 with body `ok`. */
export function kubeletHealthzProbe(url: string, host: Pick<Host, 'http'>, opts: { pollIntervalMs?: number } = {}): Probe {
  // One connection, kept alive between polls: no handshake and no TIME_WAIT socket per poll. A kubelet that
  // restarts closes it, and the next poll connects afresh.
  const http = host.http.keptAlive(url);
  return {
    name: 'kubelet healthz',
    pollIntervalMs: opts.pollIntervalMs ?? HEALTHZ_POLL_INTERVAL_MS,
    check: (signal) => getHealthz(url, signal, http),
    async close() {
      http.close();
    },
  };
}

export async function getHealthz(url: string, signal: AbortSignal, http: Pick<HttpGetter, 'get'>): Promise<Observation> {
  const a = await http.get(url, { signal, timeoutMs: REQUEST_TIMEOUT_MS });
  if ('error' in a) return { ready: false, detail: a.error };
  const ok = a.status === 200 && a.body.trim() === 'ok';
  return { ready: ok, detail: ok ? 'ok' : `HTTP ${a.status} ${quoted(a.body.trim(), 80)}` };
}
