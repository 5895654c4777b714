import type { Socket } from 'node:net';
import { DBusError, Message, MessageType, sessionBus, type MessageBus, type Variant } from 'dbus-next';
import { sleep } from '../base/sleep.js';

/**
 * The one adapter between postjoin and systemd: the D-Bus API of org.freedesktop.systemd1 over dbus-next
 * (nodeadm's daemon/systemd.go is the model). Callers ask for a unit's state, watch it, or run a job and get
 * its result; none of them sees a D-Bus message.
 *
 * dbus-next leaves a call pending forever when the connection fails or closes, and emits 'error' with no
 * listener (a crash). So every call here is raced against the connection's loss and a timeout, and the
 * 'error' listener is attached before anything else.
 */

export const DEFAULT_SYSTEM_BUS = 'unix:path=/run/dbus/system_bus_socket';
const SYSTEMD = 'org.freedesktop.systemd1';
const MANAGER_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const UNIT = 'org.freedesktop.systemd1.Unit';
const SERVICE = 'org.freedesktop.systemd1.Service';
const PROPERTIES = 'org.freedesktop.DBus.Properties';
const BUS = 'org.freedesktop.DBus';

/** libdbus's default reply timeout. StartUnit only queues a job, so a call that takes longer is stuck. */
const CALL_TIMEOUT_MS = 25_000;
const CONNECT_TIMEOUT_MS = 5_000;
/** How many finished jobs are remembered, for a JobRemoved that arrives before the StartUnit reply. */
const REMEMBERED_JOBS = 64;

export interface UnitState {
  name: string;
  /** loaded, not-found, bad-setting, error, masked */
  loadState: string;
  /** active, reloading, inactive, failed, activating, deactivating */
  activeState: string;
  subState: string;
  /** A service's Result (exit-code, timeout, ...), read only when the unit failed. */
  result?: string;
}

export type UnitAction = 'start' | 'stop' | 'restart';

/** What a PropertiesChanged signal said about the unit's state, when it said it. */
export interface UnitChange {
  activeState?: string;
  subState?: string;
}

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

/** The system bus is missing, refused us, or went away. A probe treats this as "not ready yet". */
export class SystemdUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SystemdUnavailable';
  }
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

export interface ConnectOptions {
  /** Defaults to DBUS_SYSTEM_BUS_ADDRESS, then the standard system bus socket. */
  address?: string;
  callTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export function systemBusAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_SYSTEM_BUS;
}

/** Connects to the system bus and says hello; rejects with SystemdUnavailable if the bus is not there. */
export async function connectSystemd(opts: ConnectOptions = {}): Promise<Systemd> {
  const address = opts.address ?? systemBusAddress();
  let bus: MessageBus;
  try {
    // sessionBus() is dbus-next's "connect to this address"; systemBus() would ignore an explicit address.
    bus = sessionBus({ busAddress: address });
  } catch (err) {
    throw new SystemdUnavailable(`cannot connect to the system bus at ${address}: ${(err as Error).message}`);
  }
  const conn = new Connection(bus, address, opts.callTimeoutMs ?? CALL_TIMEOUT_MS);
  await conn.ready(opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  return conn;
}

class Connection implements Systemd {
  lost = false;
  private lostError: SystemdUnavailable | undefined;
  private readonly lostListeners = new Set<(err: SystemdUnavailable) => void>();
  private readonly unitWatchers = new Map<string, Set<(changed: UnitChange) => void>>();
  private readonly jobWaiters = new Map<string, (result: string) => void>();
  private readonly removedJobs = new Map<string, string>();
  private subscribed: Promise<void> | undefined;
  private jobSignals: Promise<void> | undefined;
  private readonly stream: Socket | undefined;

  constructor(
    private readonly bus: MessageBus,
    readonly address: string,
    private readonly callTimeoutMs: number,
  ) {
    bus.on('error', (err: Error) => this.markLost(`system bus connection at ${address} failed: ${err.message}`));
    // dbus-next does not forward the stream's end; without this a daemon that goes away is never noticed.
    this.stream = (bus as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
    this.stream?.on?.('close', () => this.markLost(`system bus connection at ${address} was closed`));
    bus.on('message', (msg) => this.dispatch(msg));
  }

  ready(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.bus.removeListener('connect', onConnect);
        this.lostListeners.delete(onLost);
        if (err) {
          this.disconnect();
          reject(err);
        } else resolve();
      };
      const onConnect = () => done();
      const onLost = (err: SystemdUnavailable) =>
        done(new SystemdUnavailable(err.message.replace(/^system bus connection at (\S+) (failed|was closed)/, 'cannot connect to the system bus at $1')));
      const timer = setTimeout(
        () => done(new SystemdUnavailable(`cannot connect to the system bus at ${this.address}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      if (this.lostError) return onLost(this.lostError);
      this.bus.on('connect', onConnect);
      this.lostListeners.add(onLost);
    });
  }

  async unitState(name: string, signal?: AbortSignal): Promise<UnitState> {
    const path = await this.loadUnit(name, signal);
    const all = (await this.call(path, PROPERTIES, 'GetAll', 's', [UNIT], signal)).body[0] as Record<string, Variant>;
    const str = (k: string) => String(all[k]?.value ?? '');
    const state: UnitState = { name, loadState: str('LoadState'), activeState: str('ActiveState'), subState: str('SubState') };
    if (state.activeState === 'failed' && name.endsWith('.service')) {
      const r = await this.call(path, PROPERTIES, 'Get', 'ss', [SERVICE, 'Result'], signal).catch(() => undefined);
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
        await this.addMatch(propertiesRule(path), signal);
      } catch (err) {
        if (set.size === 0) this.unitWatchers.delete(path);
        throw err;
      }
    }
    set.add(onChange);
    const onLost = () => onChange({});
    this.lostListeners.add(onLost);
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      this.lostListeners.delete(onLost);
      const watchers = this.unitWatchers.get(path);
      watchers?.delete(onChange);
      if (watchers && watchers.size === 0) {
        this.unitWatchers.delete(path);
        if (!this.lost) await this.removeMatch(propertiesRule(path)).catch(() => {});
      }
    };
  }

  async runJob(action: UnitAction, name: string, signal?: AbortSignal): Promise<JobOutcome> {
    await this.watchJobs(signal);
    const method = { start: 'StartUnit', stop: 'StopUnit', restart: 'RestartUnit' }[action];
    const job = String((await this.call(MANAGER_PATH, MANAGER, method, 'ss', [name, 'replace'], signal)).body[0]);
    const early = this.removedJobs.get(job);
    if (early !== undefined) return { job, result: early };
    const result = await this.guard(
      new Promise<string>((resolve) => this.jobWaiters.set(job, resolve)),
      signal,
      undefined,
      `the ${action} job for ${name}`,
    ).finally(() => this.jobWaiters.delete(job));
    return { job, result };
  }

  async enableUnitFiles(names: string[], signal?: AbortSignal): Promise<EnableOutcome> {
    const reply = await this.call(MANAGER_PATH, MANAGER, 'EnableUnitFiles', 'asbb', [names, false, false], signal);
    const [carries, changes] = reply.body as [boolean, [string, string, string][]];
    return { carriesInstallInfo: Boolean(carries), changes: (changes ?? []).map(([type, file, destination]) => ({ type, file, destination })) };
  }

  async reload(signal?: AbortSignal): Promise<void> {
    // A reload of a big unit set can take longer than a plain call; it is still bounded.
    await this.call(MANAGER_PATH, MANAGER, 'Reload', '', [], signal, Math.max(this.callTimeoutMs, 90_000));
  }

  async waitForUnit(name: string, until: (s: UnitState) => boolean, opts: WaitForUnitOptions): Promise<UnitState> {
    let changed = false;
    let wake: (() => void) | undefined;
    const unwatch = await this.watchUnit(
      name,
      () => {
        changed = true;
        wake?.();
      },
      opts.signal,
    );
    try {
      for (;;) {
        changed = false;
        const state = await this.unitState(name, opts.signal);
        opts.onState?.(state);
        if (until(state)) return state;
        if (opts.signal.aborted) throw abortError(opts.signal);
        if (this.lost) throw this.lostError!;
        if (!changed) await sleep(opts.pollMs ?? 1000, opts.signal, (w) => (wake = w));
        wake = undefined;
      }
    } finally {
      await unwatch();
    }
  }

  async close(): Promise<void> {
    if (!this.lost) this.markLost(`system bus connection at ${this.address} was closed by postjoin`);
    this.disconnect();
  }

  private disconnect(): void {
    try {
      this.bus.disconnect();
    } catch {
      // Already gone.
    }
    // end() alone waits for the peer's FIN; a bus that stopped answering must not keep the agent alive.
    this.stream?.destroy();
  }

  private loadUnit(name: string, signal?: AbortSignal): Promise<string> {
    return this.call(MANAGER_PATH, MANAGER, 'LoadUnit', 's', [name], signal).then((m) => String(m.body[0]));
  }

  private subscribe(signal?: AbortSignal): Promise<void> {
    // Without Subscribe systemd sends no unit or job signals at all.
    this.subscribed ??= this.call(MANAGER_PATH, MANAGER, 'Subscribe', '', [], signal).then(
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
      await this.addMatch(`type='signal',sender='${SYSTEMD}',path='${MANAGER_PATH}',interface='${MANAGER}',member='JobRemoved'`, signal);
      await this.subscribe(signal);
    })().catch((err: unknown) => {
      this.jobSignals = undefined;
      throw err;
    });
    return this.jobSignals;
  }

  private addMatch(rule: string, signal?: AbortSignal): Promise<void> {
    return this.callBus('AddMatch', rule, signal);
  }

  private removeMatch(rule: string): Promise<void> {
    return this.callBus('RemoveMatch', rule);
  }

  private async callBus(member: string, rule: string, signal?: AbortSignal): Promise<void> {
    const msg = new Message({ destination: BUS, path: '/org/freedesktop/DBus', interface: BUS, member, signature: 's', body: [rule] });
    await this.guard(this.bus.call(msg), signal, this.callTimeoutMs, `${member} on the bus`);
  }

  private call(path: string, iface: string, member: string, signature: string, body: unknown[], signal?: AbortSignal, timeoutMs = this.callTimeoutMs): Promise<Message> {
    if (this.lost) return Promise.reject(this.lostError!);
    const msg = new Message({ destination: SYSTEMD, path, interface: iface, member, signature, body });
    let sent: Promise<Message | null>;
    try {
      sent = this.bus.call(msg);
    } catch (err) {
      return Promise.reject(new SystemdUnavailable(`cannot call systemd ${member}: ${(err as Error).message}`));
    }
    return this.guard(
      sent.then((m) => m as Message, (err: unknown) => Promise.reject(describeDBusError(member, err))),
      signal,
      timeoutMs,
      `systemd ${member}`,
    );
  }

  /** Settles with `work`, or rejects when the connection is lost, the signal aborts, or the timeout passes. */
  private guard<T>(work: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number | undefined, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.lostListeners.delete(onLost);
      };
      const onAbort = () => {
        cleanup();
        reject(abortError(signal!));
      };
      const onLost = (err: SystemdUnavailable) => {
        cleanup();
        reject(new SystemdUnavailable(`${err.message} while waiting for ${what}`));
      };
      if (this.lost) return reject(this.lostError!);
      if (signal?.aborted) return reject(abortError(signal));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.lostListeners.add(onLost);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new SystemdUnavailable(`no answer from ${what} within ${timeoutMs / 1000}s`));
        }, timeoutMs);
      }
      work.then(
        (v) => {
          cleanup();
          resolve(v);
        },
        (err: unknown) => {
          cleanup();
          reject(err);
        },
      );
    });
  }

  private dispatch(msg: Message): void {
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

  private markLost(message: string): void {
    if (this.lost) return;
    this.lost = true;
    this.lostError = new SystemdUnavailable(message);
    for (const cb of [...this.lostListeners]) cb(this.lostError);
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

/** "Unit foo.service not found. (org.freedesktop.systemd1.NoSuchUnit)" rather than a bare DBusError. */
function describeDBusError(member: string, err: unknown): Error {
  if (err instanceof DBusError) {
    const e = new Error(`systemd ${member}: ${err.text ?? err.message} (${err.type})`);
    e.name = 'SystemdCallFailed';
    return e;
  }
  return err instanceof Error ? err : new Error(String(err));
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error(typeof reason === 'object' && reason && 'message' in reason ? String(reason.message) : 'aborted');
  e.name = 'AbortError';
  return e;
}

