import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config.js';
import { formatDuration } from '../duration.js';
import { NotReady } from '../errors.js';
import type { StatusReporter } from '../report/systemd-notify.js';
import { reasonOf } from '../runner/stop-reason.js';
import { containerdProbe } from './containerd-probe.js';
import { kubeletHealthzProbe } from './kubelet-healthz.js';
import type { Observation, Probe } from './probe.js';

export const POLL_INTERVAL_MS = 50;

/** The probes the config asks for; an empty list means readiness is switched off. */
export function probesFor(config: AgentConfig): Probe[] {
  const probes: Probe[] = [];
  if (config.readiness.kubeletHealthz) probes.push(kubeletHealthzProbe(config.readiness.kubeletHealthz));
  if (config.readiness.containerd) probes.push(containerdProbe(config.containerd.socket));
  return probes;
}

export interface GateDeps {
  log: Logger;
  notify: StatusReporter;
  stop: AbortSignal;
  timeoutMs: number;
  pollIntervalMs?: number;
}

/**
 * Waits until every probe passes in the same round, or throws NotReady naming each probe still failing
 * with its last observation and how long ago it was made.
 */
export async function waitUntilReady(probes: Probe[], deps: GateDeps): Promise<void> {
  if (probes.length === 0) return;
  const started = Date.now();
  const last = new Map<Probe, Observation & { at: number }>();
  let wake: (() => void) | undefined;
  for (const p of probes) p.watch?.(() => wake?.());
  try {
    for (;;) {
      const round = await Promise.all(probes.map(async (p) => [p, await p.check(deps.stop)] as const));
      const now = Date.now();
      for (const [p, o] of round) {
        const before = last.get(p);
        if (!before || before.ready !== o.ready || before.detail !== o.detail) {
          deps.log.info({ probe: p.name, ready: o.ready }, `readiness: ${p.name}: ${o.detail}`);
        }
        last.set(p, { ...o, at: now });
      }
      const waiting = round.filter(([, o]) => !o.ready).map(([p]) => p.name);
      if (waiting.length === 0) {
        deps.log.info({ duration_ms: now - started }, `node is ready after ${formatDuration(now - started)}`);
        return;
      }
      deps.notify.status(`waiting: ${waiting.join(', ')}`);
      if (deps.stop.aborted) throw new NotReady(`${reasonOf(deps.stop)} while waiting for readiness: ${describe(last, now)}`);
      if (now - started >= deps.timeoutMs) {
        throw new NotReady(`not ready after ${formatDuration(deps.timeoutMs)}: ${describe(last, now)}`);
      }
      const delay = Math.min(deps.pollIntervalMs ?? POLL_INTERVAL_MS, deps.timeoutMs - (now - started));
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          deps.stop.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const t = setTimeout(done, delay);
        wake = done;
        deps.stop.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await Promise.all(probes.map((p) => p.close?.().catch(() => {})));
  }
}

function describe(last: Map<Probe, Observation & { at: number }>, now: number): string {
  return [...last.entries()]
    .filter(([, o]) => !o.ready)
    .map(([p, o]) => `${p.name}: ${o.detail} (last ${formatDuration(Math.round((now - o.at) / 1000) * 1000)} ago)`)
    .join('; ');
}
