import type { Logger } from 'pino';
import { formatDuration } from '../base/duration.js';
import { NotReady } from '../base/errors.js';
import { pollUntil } from '../base/retry.js';
import { sleep } from '../base/sleep.js';
import { Stopped, reasonOf } from '../base/stop-reason.js';
import type { AgentConfig } from '../config/agent-config.js';
import { createHost, type Host } from '../host/host.js';
import type { StatusReporter } from '../host/notify/systemd-notify.js';
import { containerdProbe } from './containerd-probe.js';
import { kubeletHealthzProbe } from './kubelet-healthz.js';
import type { Observation, Probe } from './probe.js';
import { unitProbe } from './unit-probe.js';

/** The poll of probes that set none. kubelet healthz, containerd and the units each set their own. */
export const POLL_INTERVAL_MS = 50;
/** How long a run that ends here (not ready, stopped) waits for its probes to let go: a hung bus must not hold it. */
const RELEASE_GRACE_MS = 500;

/**
 * The probes the config asks for; an empty list means readiness is switched off. The probes reach the machine
 * through `host` (the run's, so unit tasks reuse its systemd connection and pull tasks its containerd channel);
 * without one they get a private host that the last probe's close() releases. Either way D-Bus and gRPC are only
 * touched when a probe first checks.
 */
export function probesFor(config: AgentConfig, host?: Host): Probe[] {
  const h = host ?? createHost();
  const probes: Probe[] = [];
  for (const u of config.readiness.units) probes.push(unitProbe(u, h));
  if (config.readiness.kubeletHealthz) probes.push(kubeletHealthzProbe(config.readiness.kubeletHealthz, h));
  if (config.readiness.containerd) probes.push(containerdProbe(config.containerd.socket, h));
  return host ? probes : closingHost(probes, h);
}

/** The probes, the last of them to close also closing the private host they share. */
function closingHost(probes: Probe[], own: Host): Probe[] {
  let open = probes.length;
  return probes.map((p) => ({
    ...p,
    async close() {
      await p.close?.();
      if (--open === 0) await own.close();
    },
  }));
}

export interface GateDeps {
  log: Logger;
  notify: StatusReporter;
  stop: AbortSignal;
  timeoutMs: number;
  /** The poll interval of probes that do not set their own. */
  pollIntervalMs?: number;
}

interface Seen extends Observation {
  at: number;
}

/**
 * Waits until the latest observation of every probe is ready, or throws NotReady (exit 3) naming each probe
 * still failing with its last observation and how long ago it was made. A stop (SIGTERM, the run deadline)
 * is not "not ready": it throws Stopped (exit 1), naming the stop and what was still not ready.
 *
 * Each probe runs its own loop on its own interval, so a slow probe (a healthz request that hangs for its
 * 2 s timeout) never delays the others, and a probe that signals a change is re-checked at once. The gate
 * completes in the same turn as the check that made the last probe ready: that is the readiness reaction.
 */
export async function waitUntilReady(probes: Probe[], deps: GateDeps): Promise<void> {
  if (probes.length === 0) return;
  const started = Date.now();
  const last = new Map<Probe, Seen>();
  const ctl = new AbortController();
  let settle: (err?: Error) => void = () => {};
  const settled = new Promise<void>((resolve, reject) => {
    settle = (err) => {
      if (ctl.signal.aborted) return;
      ctl.abort();
      if (err) reject(err);
      else resolve();
    };
  });
  let waitingFor = '';

  const record = (p: Probe, o: Observation) => {
    const now = Date.now();
    const before = last.get(p);
    if (!before || before.ready !== o.ready || before.detail !== o.detail) {
      const fields = { probe: p.name, ready: o.ready };
      if (o.severity === 'warn') deps.log.warn(fields, `readiness: ${p.name}: ${o.detail}`);
      else deps.log.info(fields, `readiness: ${p.name}: ${o.detail}`);
    }
    last.set(p, { ...o, at: now });
    const waiting = probes.filter((q) => !last.get(q)?.ready).map((q) => q.name);
    if (waiting.length === 0) {
      deps.log.info({ duration_ms: now - started }, `node is ready after ${formatDuration(now - started)}`);
      settle();
    } else if (waiting.join(', ') !== waitingFor) {
      waitingFor = waiting.join(', ');
      deps.notify.status(`waiting: ${waitingFor}`);
    }
  };

  const poll = (p: Probe) =>
    pollUntil(
      async () => {
        if (ctl.signal.aborted) return undefined;
        const o = await p.check(ctl.signal).catch((err: unknown) => ({ ready: false, detail: `probe failed: ${(err as Error).message}` }));
        if (!ctl.signal.aborted) record(p, o);
        return undefined;
      },
      // A probe that signals a change (a unit's PropertiesChanged) is checked again at once.
      { signal: ctl.signal, intervalMs: p.pollIntervalMs ?? deps.pollIntervalMs ?? POLL_INTERVAL_MS, watch: (nudge) => p.watch?.(nudge) },
    );

  const onStop = () => settle(new Stopped(`${reasonOf(deps.stop)} while waiting for readiness; still not ready: ${describe(probes, last, Date.now(), started)}`));
  const deadline = setTimeout(
    () => settle(new NotReady(`not ready after ${formatDuration(deps.timeoutMs)}: ${describe(probes, last, Date.now(), started)}`)),
    deps.timeoutMs,
  );
  if (deps.stop.aborted) onStop();
  else deps.stop.addEventListener('abort', onStop, { once: true });
  for (const p of probes) void poll(p).catch((err: unknown) => settle(err as Error));
  let ready = false;
  try {
    await settled;
    ready = true;
  } finally {
    clearTimeout(deadline);
    deps.stop.removeEventListener('abort', onStop);
    // Releasing the probes (a RemoveMatch round trip, a gRPC channel) is kept off the path to the first task.
    const closing = Promise.all(probes.map((p) => p.close?.().catch(() => {})));
    if (!ready) {
      // The run's own host.close() ends whatever a probe could not release in time.
      const enough = new AbortController();
      await Promise.race([closing, sleep(RELEASE_GRACE_MS, enough.signal)]);
      enough.abort();
    }
  }
}

function describe(probes: Probe[], last: Map<Probe, Seen>, now: number, started: number): string {
  return probes
    .filter((p) => !last.get(p)?.ready)
    .map((p) => {
      const o = last.get(p);
      if (!o) return `${p.name}: no answer yet (asked ${formatDuration(roundSeconds(now - started))} ago)`;
      return `${p.name}: ${o.detail} (last ${formatDuration(roundSeconds(now - o.at))} ago)`;
    })
    .join('; ');
}

function roundSeconds(ms: number): number {
  return Math.round(ms / 1000) * 1000;
}

