import type { ContainerdConnection } from './containerd-connection.js';
import { RegistryCredentials } from './registry-credentials.js';

/**
 * The side-effect adapters a task or probe may need, acquired lazily: a plan that needs no D-Bus never
 * connects to it (design §4). `close()` releases whatever was opened, so the process can exit.
 */
export interface Host {
  /** containerd's CRI and image services: one gRPC channel per socket, loaded and opened on first use (pull tasks). */
  containerd(socket: string): Promise<ContainerdConnection>;
  /** Registry credentials got during this run (one ECR token per registry), shared by every pull task. */
  readonly registryCredentials: RegistryCredentials;
  close(): Promise<void>;
}

export function createHost(): Host {
  let closed = false;
  const containerd = new Map<string, Promise<ContainerdConnection>>();
  return {
    containerd(socket) {
      if (closed) return Promise.reject(new Error('host adapters are closed'));
      let c = containerd.get(socket);
      if (!c) containerd.set(socket, (c = import('./containerd-connection.js').then((m) => m.connectContainerd(socket))));
      return c;
    },
    registryCredentials: new RegistryCredentials(),
    async close() {
      closed = true;
      for (const c of containerd.values()) (await c.catch(() => undefined))?.close();
      containerd.clear();
    },
  };
}
