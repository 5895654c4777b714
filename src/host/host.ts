import { giveUp, retry } from '../base/retry.js';
import { createImdsClient, type ImdsClient, type ImdsClientOptions } from './aws/imds-client.js';
import { RegistryCredentials } from './aws/registry-credentials.js';
import type { ContainerdConnection } from './containerd/connection.js';
import { writeFileAtomic, type AtomicWriteOptions } from './files/atomic-file.js';
import { resolveParents } from './files/resolve-parents.js';
import { httpGet, keptAliveGetter, type HttpAnswer, type HttpGetter } from './http/http-get.js';
import type { KubeClient } from './kube/api-client.js';
import { resolveId } from './process/accounts.js';
import { loadExeca } from './process/lazy-execa.js';
import { runInProcessGroup, type ProcessOutcome, type ProcessSpec } from './process/process-group.js';
import type { Systemd } from './systemd/systemd.js';

/**
 * The one door to the machine. Everything below the composition root (verbs/) that needs systemd, containerd,
 * IMDS, the Kubernetes API, an HTTP GET, a process or an atomic write gets it from a Host it was handed, never
 * by importing the adapter: a plan that needs no D-Bus never connects to it (design §4), and tests hand in a
 * Host pointed at their emulators. Connections are made on first use; `close()` releases them, so the process
 * can exit.
 */
export interface Host {
  /**
   * systemd over the system bus, connected on first use and shared by the unit probes and the unit and wait
   * tasks. A connection that was lost (or never made) is retried on the next call.
   */
  systemd(): Promise<Systemd>;
  /** containerd's CRI and image services: one gRPC channel per socket, loaded and opened on first use. */
  containerd(socket: string): Promise<ContainerdConnection>;
  /**
   * Closes and forgets the socket's channel, so the next containerd() opens a fresh one: the readiness probe
   * then sees containerd as soon as it listens, without grpc-js's reconnect backoff.
   */
  dropContainerd(socket: string): void;
  /** Registry credentials got during this run (one ECR token per registry), shared by every pull task. */
  readonly registryCredentials: RegistryCredentials;
  /**
   * The run's one IMDS client, made on first use (one session token for the sources, the instance identity
   * and the task context); undefined when IMDS is switched off.
   */
  imds(): ImdsClient | undefined;
  /** A Kubernetes client with the kubeconfig's server and credential; loaded and read on each call. */
  kube(kubeconfig: string): Promise<KubeClient>;
  readonly http: {
    /** One GET with its own deadline, never throwing (wait tasks). */
    get(url: string, opts: { signal: AbortSignal; timeoutMs: number }): Promise<HttpAnswer>;
    /** GETs over one kept-alive connection (the kubelet healthz probe). */
    keptAlive(url: string): HttpGetter;
  };
  readonly process: {
    /** A command as the leader of its own process group (exec and script tasks). */
    run(spec: ProcessSpec): Promise<ProcessOutcome>;
    /** Loads execa, which starts every process, ahead of the first task: off the path from readiness to its spawn. */
    preload(): Promise<unknown>;
  };
  readonly accounts: {
    /** A user or group name (or numeric ID) as the system's resolver knows it (getent). */
    resolveId(kind: 'user' | 'group', nameOrId: string, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<number>;
  };
  readonly files: {
    /** Temporary file, fsync, rename, fsync of the directory (file tasks, state.json). */
    writeAtomic(path: string, data: string | Uint8Array, opts?: AtomicWriteOptions): Promise<void>;
    /** Where a write to `path` really lands, its parents' symlinks resolved. */
    resolveParents(path: string): Promise<string>;
  };
  close(): Promise<void>;
}

export interface HostOptions {
  /** How systemd is reached; the system bus by default (tests point it at a private bus). */
  connectSystemd?: () => Promise<Systemd>;
  /** IMDS as the config says (imds.budget, the run's log and stop); absent when imds.enabled is false. */
  imds?: ImdsClientOptions;
}

/** A systemd connection that was cached but has been lost since: worth one fresh attempt. */
class LostConnection extends Error {}

export function createHost(opts: HostOptions = {}): Host {
  // Loaded on first use, like containerd's gRPC: a run without unit probes or unit tasks never evaluates dbus-next
  // (and the XML parser under it), which is about a tenth of a run's start-up and memory (bench P3, P5).
  const connect = opts.connectSystemd ?? (() => import('./systemd/systemd.js').then((m) => m.connectSystemd()));
  let systemd: Promise<Systemd> | undefined;
  let imds: ImdsClient | undefined;
  let closed = false;
  const containerd = new Map<string, Promise<ContainerdConnection>>();
  return {
    systemd() {
      // Twice at most: a cached connection that turns out lost gets one fresh attempt.
      return retry(
        async (n) => {
          if (closed) throw new Error('host adapters are closed');
          const current = systemd ?? reconnect();
          const s = await current;
          if (!s.lost || n > 0) return s;
          if (systemd === current) systemd = undefined;
          throw new LostConnection();
        },
        { delayMs: (err) => (err instanceof LostConnection ? 0 : giveUp(err)) },
      );
    },
    containerd(socket) {
      if (closed) return Promise.reject(new Error('host adapters are closed'));
      let c = containerd.get(socket);
      if (!c) containerd.set(socket, (c = import('./containerd/connection.js').then((m) => m.connectContainerd(socket))));
      return c;
    },
    dropContainerd(socket) {
      const c = containerd.get(socket);
      containerd.delete(socket);
      void c?.then((conn) => conn.close(), () => {});
    },
    registryCredentials: new RegistryCredentials(),
    imds() {
      if (opts.imds) imds ??= createImdsClient(opts.imds);
      return imds;
    },
    async kube(kubeconfig) {
      const [{ readKubeconfig }, { createKubeClient }] = await Promise.all([import('./kube/kubeconfig.js'), import('./kube/api-client.js')]);
      return createKubeClient(await readKubeconfig(kubeconfig));
    },
    http: { get: httpGet, keptAlive: keptAliveGetter },
    process: { run: runInProcessGroup, preload: loadExeca },
    accounts: { resolveId },
    files: { writeAtomic: writeFileAtomic, resolveParents },
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
