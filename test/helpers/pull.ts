import type { ContainerdConnection } from '../../src/host/containerd/connection.js';
import { createHost, type Host } from '../../src/host/host.js';
import { removeDir, startContainerd, startRegistry, tempDir, writePlainHttpHosts, type Containerd, type Registry } from '../harness/index.js';
import { HEADER, config, planFrom } from './plan.js';
import { runRecorded } from './run-plan.js';

export interface PullRun {
  exitCode: number;
  message: string | undefined;
  status: Record<string, string>;
  /** The per-image records (those with an `image` field), in log order. */
  images: Record<string, unknown>[];
  records: Record<string, unknown>[];
  messages: string[];
  stateDir: string;
  ms: number;
}

/**
 * A real registry on 127.0.0.1 and a real containerd whose CRI pulls from it over plain HTTP (hosts.toml), and a
 * work dir to build images in; all of them stopped and removed when the test ends.
 */
export async function registryAndContainerd(t: { teardown(fn: () => unknown): void }): Promise<{ work: string; reg: Registry; ctd: Containerd }> {
  const work = await tempDir('img');
  t.teardown(() => removeDir(work));
  const reg = await startRegistry();
  t.teardown(reg.stop);
  const ctd = await startContainerd();
  t.teardown(ctd.stop);
  await writePlainHttpHosts(ctd.hostsDir, reg.host);
  return { work, reg, ctd };
}

/** Runs a task list through the real runner (timeouts, once-state) against the containerd at `socket`. */
export async function runTasks(
  tasksYaml: string,
  opts: { socket: string; stateDir?: string; host?: Host; registries?: string[]; namespace?: string },
): Promise<PullRun> {
  const cfg = config({ containerd: { socket: opts.socket, ...(opts.namespace ? { namespace: opts.namespace } : {}) }, policy: { registries: opts.registries ?? [] } });
  const plan = planFrom(`${HEADER}tasks:\n${tasksYaml}`, cfg);
  const host = opts.host ?? createHost();
  try {
    const r = await runRecorded(plan, { config: cfg, host, instanceId: 'i-pull', stateDir: opts.stateDir });
    return {
      exitCode: r.outcome.exitCode,
      message: r.outcome.message,
      status: r.status,
      images: r.records.filter((x) => typeof x.image === 'string'),
      records: r.records,
      messages: r.messages(),
      stateDir: r.stateDir,
      ms: r.ms,
    };
  } finally {
    if (!opts.host) await host.close();
  }
}

/**
 * A Host whose CRI PullImage calls are counted. With `barrier`, the first pulls are held until that many are in
 * flight at once, so a concurrency assertion does not depend on how fast a loaded machine starts them.
 */
export function countingHost(barrier = 0, barrierTimeoutMs = 10_000): { host: Host; maxInFlight: () => number; pulls: () => string[] } {
  const real = createHost();
  let inFlight = 0;
  let max = 0;
  const pulls: string[] = [];
  const waiting: (() => void)[] = [];
  const wrap = (conn: ContainerdConnection): ContainerdConnection => {
    const cri = Object.create(conn.cri) as ContainerdConnection['cri'];
    cri.pullImage = async (ref, auth, o) => {
      inFlight++;
      max = Math.max(max, inFlight);
      pulls.push(ref);
      try {
        if (barrier > 0 && pulls.length <= barrier && inFlight < barrier) {
          await new Promise<void>((resolve) => {
            waiting.push(resolve);
            setTimeout(resolve, barrierTimeoutMs);
          });
        } else {
          for (const release of waiting.splice(0)) release();
        }
        return await conn.cri.pullImage(ref, auth, o);
      } finally {
        inFlight--;
      }
    };
    return { ...conn, cri, images: conn.images, close: conn.close };
  };
  const host: Host = { ...real, containerd: async (socket) => wrap(await real.containerd(socket)), close: () => real.close() };
  return { host, maxInFlight: () => max, pulls: () => pulls };
}
