import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentConfig } from '../../src/config/agent-config.js';
import { createHost, type Host } from '../../src/host/host.js';
import type { Plan } from '../../src/plan/task.js';
import { runPlan } from '../../src/runner/run-plan.js';
import { RunRecorder } from '../../src/state/run-recorder.js';
import { StateStore, readState } from '../../src/state/state-store.js';
import { memoryLogger } from './memory-log.js';
import { config } from './plan.js';

export interface RunOptions {
  /** The machine the tasks reach; a fresh Host by default. */
  host?: Host;
  stateDir?: string;
  instanceId?: string;
  stop?: AbortSignal;
  /** The agent config the tasks run under (its policy and containerd); the tests' default otherwise. */
  config?: AgentConfig;
}

/**
 * Runs a plan as `run` does, against a real state dir, with no jitter in the retries; returns the outcome, the
 * state recorded (and each task's status by name), the error lines, the whole log and how long the run took.
 */
export async function runRecorded(plan: Plan, opts: RunOptions = {}) {
  const stateDir = opts.stateDir ?? (await mkdtemp(join(tmpdir(), 'postjoin-runner-')));
  const mem = memoryLogger();
  const store = await StateStore.open(stateDir, mem.log);
  const recorder = new RunRecorder(store, 'boot-1');
  recorder.setPlan(plan);
  recorder.setInstanceId(opts.instanceId ?? 'i-test');
  const t0 = Date.now();
  const outcome = await runPlan(plan, {
    config: opts.config ?? config(),
    log: mem.log,
    host: opts.host ?? createHost(),
    instanceId: opts.instanceId ?? 'i-test',
    recorder,
    notify: { status() {}, flush: async () => {} },
    stop: opts.stop ?? new AbortController().signal,
    random: () => 0,
  });
  const ms = Date.now() - t0;
  recorder.finish(outcome.exitCode, outcome.message);
  await recorder.save();
  const loaded = await readState(stateDir);
  if (loaded.kind !== 'ok') throw new Error('state not written');
  const status = Object.fromEntries(loaded.state.tasks.map((r) => [r.name, r.status]));
  const errors = mem.records.filter((r) => r.level === 'error').map((r) => String(r.msg));
  return { outcome, state: loaded.state, status, stateDir, errors, ms, ...mem };
}
