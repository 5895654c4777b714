import type { CriCondition } from '../host/containerd/cri-client.js';
import type { Host } from '../host/host.js';
import type { Observation, Probe } from './probe.js';

const STATUS_TIMEOUT_MS = 2_000;
/** containerd is up well before kubelet is healthy on a joining node: five Status calls a second are plenty. */
const POLL_INTERVAL_MS = 200;

/**
 * containerd is ready when its CRI answers Status with RuntimeReady=true: the condition kubelet itself waits for.
 * NetworkReady is reported but not required, because the CNI plugin may arrive after postjoin's tasks (a
 * DaemonSet). Asked over gRPC rather than by running `ctr version`: that would only prove the socket answers, not
 * that the CRI plugin is up, and would cost a subprocess every poll.
 */
export function containerdProbe(socket: string, host: Pick<Host, 'containerd' | 'dropContainerd'>): Probe {
  return {
    name: 'containerd',
    pollIntervalMs: POLL_INTERVAL_MS,
    async check(signal) {
      try {
        // gRPC is loaded only when the probe first runs, not when the gate is built; the channel is the run's,
        // so the pull tasks after readiness use the one the probe opened.
        const conn = await host.containerd(socket);
        return describe(await conn.cri.status({ signal, timeoutMs: STATUS_TIMEOUT_MS }));
      } catch (err) {
        // A fresh channel next round sees containerd as soon as it listens, without grpc-js's reconnect backoff.
        host.dropContainerd(socket);
        const noCri = (err as { codeName?: string }).codeName === 'UNIMPLEMENTED';
        return { ready: false, detail: `${socket}: ${failure(noCri, err)}`, ...(noCri ? { severity: 'warn' as const } : {}) };
      }
    },
  };
}

function describe(conditions: CriCondition[]): Observation {
  const runtime = conditions.find((c) => c.type === 'RuntimeReady');
  const network = conditions.find((c) => c.type === 'NetworkReady');
  const text = (name: string, c: CriCondition | undefined) => {
    if (!c) return `${name} not reported`;
    const why = [c.reason, c.message].filter(Boolean).join(': ');
    return `${name}=${c.status}${!c.status && why ? ` (reason ${why})` : ''}`;
  };
  return { ready: runtime?.status === true, detail: `${text('RuntimeReady', runtime)}, ${text('NetworkReady', network)}` };
}

/** The error is duck-typed: importing GrpcError here would load grpc-js whenever the gate module loads. */
function failure(noCri: boolean, err: unknown): string {
  return noCri ? 'answers, but does not serve CRI runtime.v1 (is the CRI plugin disabled in its config?)' : (err as Error).message;
}
