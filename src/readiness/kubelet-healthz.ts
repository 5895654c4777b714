import { httpGet } from '../host/http-get.js';
import type { Observation, Probe } from './probe.js';

const REQUEST_TIMEOUT_MS = 2000;

/** kubelet is ready when GET healthz answers 200 with body `ok`. */
export function kubeletHealthzProbe(url: string): Probe {
  return {
    name: 'kubelet healthz',
    check: (signal) => getHealthz(url, signal),
  };
}

export async function getHealthz(url: string, signal: AbortSignal): Promise<Observation> {
  const a = await httpGet(url, { signal, timeoutMs: REQUEST_TIMEOUT_MS });
  if ('error' in a) return { ready: false, detail: a.error };
  const ok = a.status === 200 && a.body.trim() === 'ok';
  return { ready: ok, detail: ok ? 'ok' : `HTTP ${a.status} ${JSON.stringify(a.body.trim().slice(0, 80))}` };
}
