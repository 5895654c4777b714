import type { Host } from '../host/host.js';
import type { Systemd, UnitChange } from '../host/systemd/systemd.js';
import { describeUnit } from '../host/systemd/unit-state.js';
import type { Probe } from './probe.js';

/**
 * The fallback poll. A state change normally arrives as a PropertiesChanged signal and is seen at once; the
 * poll only matters when a signal is missed or the bus is gone (then it is also the reconnect attempt).
 */
export const UNIT_POLL_INTERVAL_MS = 1000;

/**
 * A unit is ready when its ActiveState is `active`. The state is read with LoadUnit (GetUnit fails for an
 * inactive unit systemd has garbage-collected) and watched through PropertiesChanged, so the gate re-checks the
 * moment systemd reports a change. A missing or lost bus is an observation ("system bus unreachable: ..."), never
 * a crash; the probe keeps polling, reconnecting through Host, until the gate's deadline.
 */
export function unitProbe(unit: string, host: Pick<Host, 'systemd'>, opts: { pollIntervalMs?: number } = {}): Probe {
  let onChange: ((changed: UnitChange) => void) | undefined;
  let watched: Systemd | undefined;
  let unwatch: (() => Promise<void>) | undefined;
  // The state the last signal announced, until the next check consumes it.
  let announced: UnitChange | undefined;
  return {
    name: unit,
    pollIntervalMs: opts.pollIntervalMs ?? UNIT_POLL_INTERVAL_MS,
    watch(cb) {
      onChange = (changed) => {
        announced = changed;
        cb();
      };
    },
    async check(signal) {
      const told = announced;
      announced = undefined;
      // A signal saying "active" is the answer itself: no round trip between it and the first task. Anything
      // else is read in full, for the Result of a failed unit and the LoadState of a missing one.
      if (told?.activeState === 'active') return { ready: true, detail: `active/${told.subState ?? 'running'}` };
      let systemd: Systemd;
      try {
        systemd = await host.systemd();
      } catch (err) {
        return { ready: false, detail: `system bus unreachable: ${(err as Error).message}` };
      }
      if (onChange && watched !== systemd) {
        // A new connection (the first, or one after the bus came back) needs its own subscription.
        await unwatch?.().catch(() => {});
        unwatch = undefined;
        watched = systemd;
        unwatch = await systemd.watchUnit(unit, onChange, signal).catch(() => {
          watched = undefined;
          return undefined;
        });
      }
      try {
        return describeUnit(await systemd.unitState(unit, signal));
      } catch (err) {
        return { ready: false, detail: (err as Error).message };
      }
    },
    async close() {
      await unwatch?.().catch(() => {});
      unwatch = undefined;
    },
  };
}
