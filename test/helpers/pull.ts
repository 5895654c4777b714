import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContainerdConnection } from '../../src/host/containerd/connection.js';
import { createHost, type Host } from '../../src/host/host.js';
import { RunRecorder } from '../../src/state/run-recorder.js';
import { StateStore, readState } from '../../src/state/state-store.js';
import { runPlan } from '../../src/runner/run-plan.js';
import { memoryLogger } from './memory-log.js';
import { HEADER, config, planFrom } from './plan.js';

const noNotify = { status() {}, flush: async () => {} };

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

/** Runs a task list through the real runner (timeouts, once-state) against the containerd at `socket`. */
export async function runTasks(
  tasksYaml: string,
  opts: { socket: string; stateDir?: string; host?: Host; registries?: string[]; namespace?: string },
): Promise<PullRun> {
  const cfg = config({ containerd: { socket: opts.socket, ...(opts.namespace ? { namespace: opts.namespace } : {}) }, policy: { registries: opts.registries ?? [] } });
  const plan = planFrom(`${HEADER}tasks:\n${tasksYaml}`, cfg);
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'postjoin-pull-')));
  const mem = memoryLogger();
  const store = await StateStore.open(stateDir, mem.log);
  const recorder = new RunRecorder(store, 'boot-1');
  recorder.setPlan(plan);
  recorder.setInstanceId('i-pull');
  const host = opts.host ?? createHost();
  const t0 = Date.now();
  try {
    const outcome = await runPlan(plan, { config: cfg, log: mem.log, host, instanceId: 'i-pull', recorder, notify: noNotify, stop: new AbortController().signal, random: () => 0 });
    const ms = Date.now() - t0;
    recorder.finish(outcome.exitCode, outcome.message);
    await recorder.save();
    const loaded = await readState(stateDir);
    if (loaded.kind !== 'ok') throw new Error('state not written');
    return {
      exitCode: outcome.exitCode,
      message: outcome.message,
      status: Object.fromEntries(loaded.state.tasks.map((r) => [r.name, r.status])),
      images: mem.records.filter((r) => typeof r.image === 'string'),
      records: mem.records,
      messages: mem.messages(),
      stateDir,
      ms,
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
