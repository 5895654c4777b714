import { MessageType, type Message, type Variant } from 'dbus-next';
import { pollUntil } from '../../base/retry.js';
import { BusConnection, SYSTEMD, abortError, openBus, type ConnectOptions } from './connection.js';
import type { UnitChange, UnitState } from './unit-state.js';

export { DEFAULT_SYSTEM_BUS, SystemdUnavailable, systemBusAddress, type ConnectOptions } from './connection.js';
export type { UnitChange, UnitState } from './unit-state.js';

/**
 * The one adapter between postjoin and systemd: the D-Bus API of org.freedesktop.systemd1 over dbus-next
 * (nodeadm's daemon/systemd.go is the model). Callers ask for a unit's state, watch it, or run a job and get
 * its result; none of them sees a D-Bus message. Every call goes through the guarded connection
 * (connection.ts), so a lost bus, a stop or a timeout ends it.
 */

const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT = 'org.freedesktop.systemd1.Unit';
const SERVICE = 'org.freedesktop.systemd1.Service';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
/** How many finished jobs are remembered, for a JobRemoved that arrives before the StartUnit reply. */
const REMEMBERED_JOBS = 64;

export type UnitAction = 'start' | 'stop' | 'restart';

/** systemd's job results: done, canceled, timeout, failed, dependency, skipped. */
export interface JobOutcome {
  job: string;
  result: string;
}

export interface EnableOutcome {
  /** false when the unit file has no [Install] section: enabling it changed nothing. */
  carriesInstallInfo: boolean;
  changes: { type: string; file: string; destination: string }[];
}

export interface WaitForUnitOptions {
  signal: AbortSignal;
  /** The fallback poll, in case a PropertiesChanged signal is missed. */
  pollMs?: number;
  /** Called with each state seen while waiting (for "last seen" in error messages). */
  onState?: (s: UnitState) => void;
}

export interface Systemd {
  readonly address: string;
  /** True once the connection is gone; a lost adapter is never reused (Host reconnects). */
  readonly lost: boolean;
  /** LoadUnit (not GetUnit: it fails for inactive units systemd has garbage-collected), then the unit's state. */
  unitState(name: string, signal?: AbortSignal): Promise<UnitState>;
  /**
   * Calls onChange whenever the unit's properties change (PropertiesChanged, after Manager.Subscribe), with the
   * states the signal carried, and once more, with nothing, if the connection is lost. Returns the function
   * that stops watching.
   */
  watchUnit(name: string, onChange: (changed: UnitChange) => void, signal?: AbortSignal): Promise<() => Promise<void>>;
  /** Queues a start/stop/restart job (mode "replace") and returns when systemd reports it removed (JobRemoved). */
  runJob(action: UnitAction, name: string, signal?: AbortSignal): Promise<JobOutcome>;
  enableUnitFiles(names: string[], signal?: AbortSignal): Promise<EnableOutcome>;
  /** daemon-reload; systemd answers once the reload is complete. */
  reload(signal?: AbortSignal): Promise<void>;
  /** Waits, woken by the unit's signals and polling as a fallback, until `until(state)` holds. */
  waitForUnit(name: string, until: (s: UnitState) => boolean, opts: WaitForUnitOptions): Promise<UnitState>;
  close(): Promise<void>;
}

/** Connects to the system bus and says hello; rejects with SystemdUnavailable if the bus is not there. */
export async function connectSystemd(opts: ConnectOptions = {}): Promise<Systemd> {
  const units = new SystemdUnits();
  units.bus = await openBus(opts, (msg) => units.dispatch(msg));
  return units;
}

class SystemdUnits implements Systemd {
  bus!: BusConnection;
  private readonly unitWatchers = new Map<string, Set<(changed: UnitChange) => void>>();
  private readonly jobWaiters = new Map<string, (result: string) => void>();
  private readonly removedJobs = new Map<string, string>();
  private subscribed: Promise<void> | undefined;
  private jobSignals: Promise<void> | undefined;

  get address(): string {
    return this.bus.address;
  }

  get lost(): boolean {
    return this.bus.lost;
  }

  async unitState(name: string, signal?: AbortSignal): Promise<UnitState> {
    const path = await this.loadUnit(name, signal);
    const all = (await this.bus.call(path, PROPERTIES, 'GetAll', 's', [UNIT], signal)).body[0] as Record<string, Variant>;
    const str = (k: string) => String(all[k]?.value ?? '');
    const state: UnitState = { name, loadState: str('LoadState'), activeState: str('ActiveState'), subState: str('SubState') };
    if (state.activeState === 'failed' && name.endsWith('.service')) {
      const r = await this.bus.call(path, PROPERTIES, 'Get', 'ss', [SERVICE, 'Result'], signal).catch(() => undefined);
      const v = r?.body[0] as Variant | undefined;
      if (v?.value) state.result = String(v.value);
    }
    return state;
  }

  async watchUnit(name: string, onChange: (changed: UnitChange) => void, signal?: AbortSignal): Promise<() => Promise<void>> {
    await this.subscribe(signal);
    const path = await this.loadUnit(name, signal);
    let set = this.unitWatchers.get(path);
    if (!set) {
      set = new Set();
      this.unitWatchers.set(path, set);
      try {
        await this.bus.callBus('AddMatch', propertiesRule(path), signal);
      } catch (err) {
        if (set.size === 0) this.unitWatchers.delete(path);
        throw err;
      }
    }
    set.add(onChange);
    const stopLost = this.bus.onLost(() => onChange({}));
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      stopLost();
      const watchers = this.unitWatchers.get(path);
      watchers?.delete(onChange);
      if (watchers && watchers.size === 0) {
        this.unitWatchers.delete(path);
        if (!this.bus.lost) await this.bus.callBus('RemoveMatch', propertiesRule(path)).catch(() => {});
      }
    };
  }

  async runJob(action: UnitAction, name: string, signal?: AbortSignal): Promise<JobOutcome> {
    await this.watchJobs(signal);
    const method = { start: 'StartUnit', stop: 'StopUnit', restart: 'RestartUnit' }[action];
    const job = String((await this.bus.call(MANAGER_PATH, MANAGER, method, 'ss', [name, 'replace'], signal)).body[0]);
    const early = this.removedJobs.get(job);
    if (early !== undefined) return { job, result: early };
    const result = await this.bus
      .guard(new Promise<string>((resolve) => this.jobWaiters.set(job, resolve)), signal, undefined, `the ${action} job for ${name}`)
      .finally(() => this.jobWaiters.delete(job));
    return { job, result };
  }

  async enableUnitFiles(names: string[], signal?: AbortSignal): Promise<EnableOutcome> {
    const reply = await this.bus.call(MANAGER_PATH, MANAGER, 'EnableUnitFiles', 'asbb', [names, false, false], signal);
    const [carries, changes] = reply.body as [boolean, [string, string, string][]];
    return { carriesInstallInfo: Boolean(carries), changes: (changes ?? []).map(([type, file, destination]) => ({ type, file, destination })) };
  }

  async reload(signal?: AbortSignal): Promise<void> {
    // A reload of a big unit set can take longer than a plain call; it is still bounded.
    await this.bus.call(MANAGER_PATH, MANAGER, 'Reload', '', [], signal, Math.max(this.bus.callTimeoutMs, 90_000));
  }

  async waitForUnit(name: string, until: (s: UnitState) => boolean, opts: WaitForUnitOptions): Promise<UnitState> {
    let nudge = () => {};
    const unwatch = await this.watchUnit(name, () => nudge(), opts.signal);
    try {
      const found = await pollUntil(
        async () => {
          const state = await this.unitState(name, opts.signal);
          opts.onState?.(state);
          if (until(state)) return state;
          if (opts.signal.aborted) throw abortError(opts.signal);
          if (this.bus.lost) throw this.bus.lostError!;
          return undefined;
        },
        { signal: opts.signal, intervalMs: opts.pollMs ?? 1000, watch: (n) => (nudge = n) },
      );
      // Stopped between two looks: the next look would have failed the same way.
      if (found === undefined) throw this.bus.lost ? this.bus.lostError! : abortError(opts.signal);
      return found;
    } finally {
      await unwatch();
    }
  }

  async close(): Promise<void> {
    this.bus.close();
  }

  dispatch(msg: Message): void {
    if (msg.type !== MessageType.SIGNAL) return;
    if (msg.interface === PROPERTIES && msg.member === 'PropertiesChanged' && msg.body[0] === UNIT) {
      const props = (msg.body[1] ?? {}) as Record<string, Variant | undefined>;
      const changed: UnitChange = {};
      if (typeof props.ActiveState?.value === 'string') changed.activeState = props.ActiveState.value;
      if (typeof props.SubState?.value === 'string') changed.subState = props.SubState.value;
      for (const cb of [...(this.unitWatchers.get(msg.path) ?? [])]) cb(changed);
    } else if (msg.interface === MANAGER && msg.member === 'JobRemoved' && msg.path === MANAGER_PATH) {
      const [, job, , result] = msg.body as [number, string, string, string];
      const waiter = this.jobWaiters.get(job);
      if (waiter) return waiter(result);
      this.removedJobs.set(job, result);
      if (this.removedJobs.size > REMEMBERED_JOBS) this.removedJobs.delete(this.removedJobs.keys().next().value!);
    }
  }

  private loadUnit(name: string, signal?: AbortSignal): Promise<string> {
    return this.bus.call(MANAGER_PATH, MANAGER, 'LoadUnit', 's', [name], signal).then((m) => String(m.body[0]));
  }

  private subscribe(signal?: AbortSignal): Promise<void> {
    // Without Subscribe systemd sends no unit or job signals at all.
    this.subscribed ??= this.bus.call(MANAGER_PATH, MANAGER, 'Subscribe', '', [], signal).then(
      () => undefined,
      (err: Error) => {
        this.subscribed = undefined;
        if (!/AlreadySubscribed/.test(err.message)) throw err;
      },
    );
    return this.subscribed;
  }

  private watchJobs(signal?: AbortSignal): Promise<void> {
    this.jobSignals ??= (async () => {
      await this.bus.callBus('AddMatch', `type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}',member='JobRemoved'`, signal);
      await this.subscribe(signal);
    })().catch((err: unknown) => {
      this.jobSignals = undefined;
      throw err;
    });
    return this.jobSignals;
  }
}

/**
 * arg0 keeps out the PropertiesChanged of the unit's other interfaces: systemd follows each Unit change with a
 * Service one of ~100 properties, and parsing that (dbus-next unmarshals in JavaScript) would sit between the
 * unit turning active and the first task.
 */
function propertiesRule(path: string): string {
  return `type='signal',sender='${SYSTEMD}',path='${path}',interface='${PROPERTIES}',member='PropertiesChanged',arg0='${UNIT}'`;
}
