import type { ContainerdConnection } from './containerd/connection.js';
import { RegistryCredentials } from './aws/registry-credentials.js';
import type { Systemd } from './systemd/systemd.js';

/**
 * The side-effect adapters a task or probe may need, acquired lazily: a plan that needs no D-Bus never
 * connects to it (design §4). `close()` releases whatever was opened, so the process can exit.
 */
export interface Host {
  /**
   * systemd over the system bus, connected on first use and shared by the unit probes and the unit and wait
   * tasks. A connection that was lost (or never made) is retried on the next call.
   */
  systemd(): Promise<Systemd>;
  /** containerd's CRI and image services: one gRPC channel per socket, loaded and opened on first use (pull tasks). */
  containerd(socket: string): Promise<ContainerdConnection>;
  /** Registry credentials got during this run (one ECR token per registry), shared by every pull task. */
  readonly registryCredentials: RegistryCredentials;
  close(): Promise<void>;
}

export interface HostOptions {
  connectSystemd?: () => Promise<Systemd>;
}

export function createHost(opts: HostOptions = {}): Host {
  // Loaded on first use, like containerd's gRPC: a run without unit probes or unit tasks never evaluates dbus-next
  // (and the XML parser under it), which is about a tenth of a run's start-up and memory (bench P3, P5).
  const connect = opts.connectSystemd ?? (() => import('./systemd/systemd.js').then((m) => m.connectSystemd()));
  let systemd: Promise<Systemd> | undefined;
  let closed = false;
  const containerd = new Map<string, Promise<ContainerdConnection>>();
  return {
    async systemd() {
      // Twice at most: a cached connection that turns out lost gets one fresh attempt.
      for (let i = 0; ; i++) {
        if (closed) throw new Error('host adapters are closed');
        const current = systemd ?? reconnect();
        const s = await current;
        if (!s.lost || i > 0) return s;
        if (systemd === current) systemd = undefined;
      }
    },
    containerd(socket) {
      if (closed) return Promise.reject(new Error('host adapters are closed'));
      let c = containerd.get(socket);
      if (!c) containerd.set(socket, (c = import('./containerd/connection.js').then((m) => m.connectContainerd(socket))));
      return c;
    },
    registryCredentials: new RegistryCredentials(),
    async close() {
      closed = true;
      for (const c of containerd.values()) (await c.catch(() => undefined))?.close();
      containerd.clear();
      const s = await systemd?.catch(() => undefined);
      systemd = undefined;
      await s?.close();
    },
  };

  function reconnect(): Promise<Systemd> {
    const attempt = connect();
    systemd = attempt;
    // A failed attempt is forgotten, so the next caller tries again instead of getting the old error.
    attempt.catch(() => {
      if (systemd === attempt) systemd = undefined;
    });
    return attempt;
  }
}
