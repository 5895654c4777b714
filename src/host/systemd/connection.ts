import type { Socket } from 'node:net';
import { DBusError, Message, sessionBus, type MessageBus } from 'dbus-next';

/**
 * The guarded connection to the system bus under the systemd adapter (systemd.ts). dbus-next leaves a call
 * pending forever when the connection fails or closes, and emits 'error' with no listener (a crash). So every
 * call here is raced against the connection's loss and a timeout, and the 'error' listener is attached before
 * anything else.
 */

export const DEFAULT_SYSTEM_BUS = 'unix:path=/run/dbus/system_bus_socket';
export const SYSTEMD = 'org.freedesktop.systemd1';
const BUS = 'org.freedesktop.DBus';

/** libdbus's default reply timeout. StartUnit only queues a job, so a call that takes longer is stuck. */
const CALL_TIMEOUT_MS = 25_000;
const CONNECT_TIMEOUT_MS = 5_000;

/** The system bus is missing, refused us, or went away. A probe treats this as "not ready yet". */
export class SystemdUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SystemdUnavailable';
  }
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
export async function openBus(opts: ConnectOptions, onSignal: (msg: Message) => void): Promise<BusConnection> {
  const address = opts.address ?? systemBusAddress();
  let bus: MessageBus;
  try {
    // sessionBus() is dbus-next's "connect to this address"; systemBus() would ignore an explicit address.
    bus = sessionBus({ busAddress: address });
  } catch (err) {
    throw new SystemdUnavailable(`cannot connect to the system bus at ${address}: ${(err as Error).message}`);
  }
  const conn = new BusConnection(bus, address, opts.callTimeoutMs ?? CALL_TIMEOUT_MS, onSignal);
  await conn.ready(opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS);
  return conn;
}

export class BusConnection {
  lost = false;
  lostError: SystemdUnavailable | undefined;
  private readonly lostListeners = new Set<(err: SystemdUnavailable) => void>();
  private readonly stream: Socket | undefined;

  constructor(
    private readonly bus: MessageBus,
    readonly address: string,
    readonly callTimeoutMs: number,
    onSignal: (msg: Message) => void,
  ) {
    bus.on('error', (err: Error) => this.markLost(`system bus connection at ${address} failed: ${err.message}`));
    // dbus-next does not forward the stream's end; without this a daemon that goes away is never noticed.
    this.stream = (bus as unknown as { _connection?: { stream?: Socket } })._connection?.stream;
    this.stream?.on?.('close', () => this.markLost(`system bus connection at ${address} was closed`));
    bus.on('message', onSignal);
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

  /** Calls a method of systemd's; settles as `guard` does. */
  call(path: string, iface: string, member: string, signature: string, body: unknown[], signal?: AbortSignal, timeoutMs = this.callTimeoutMs): Promise<Message> {
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

  /** AddMatch or RemoveMatch on the bus itself. */
  async callBus(member: 'AddMatch' | 'RemoveMatch', rule: string, signal?: AbortSignal): Promise<void> {
    const msg = new Message({ destination: BUS, path: '/org/freedesktop/DBus', interface: BUS, member, signature: 's', body: [rule] });
    await this.guard(this.bus.call(msg), signal, this.callTimeoutMs, `${member} on the bus`);
  }

  /** Settles with `work`, or rejects when the connection is lost, the signal aborts, or the timeout passes. */
  guard<T>(work: Promise<T>, signal: AbortSignal | undefined, timeoutMs: number | undefined, what: string): Promise<T> {
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

  /** Calls `cb` once when the connection is lost; returns the function that stops listening. */
  onLost(cb: (err: SystemdUnavailable) => void): () => void {
    this.lostListeners.add(cb);
    return () => this.lostListeners.delete(cb);
  }

  close(): void {
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

  private markLost(message: string): void {
    if (this.lost) return;
    this.lost = true;
    this.lostError = new SystemdUnavailable(message);
    for (const cb of [...this.lostListeners]) cb(this.lostError);
  }
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

export function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error(typeof reason === 'object' && reason && 'message' in reason ? String(reason.message) : 'aborted');
  e.name = 'AbortError';
  return e;
}
