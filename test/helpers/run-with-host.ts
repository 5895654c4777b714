import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host } from '../../src/host/host.js';
import type { Plan } from '../../src/plan/task.js';
import { RunRecorder } from '../../src/state/run-recorder.js';
import { StateStore } from '../../src/state/state-store.js';
import { runPlan } from '../../src/runner/run-plan.js';
import { memoryLogger } from './memory-log.js';
import { config } from './plan.js';

/** Runs a plan as `run` does, with `host` as its adapters; returns the outcome and the log. */
export async function runWithHost(plan: Plan, host: Host, opts: { stop?: AbortSignal } = {}) {
  const mem = memoryLogger();
  const store = await StateStore.open(await mkdtemp(join(tmpdir(), 'postjoin-unit-')), mem.log);
  const recorder = new RunRecorder(store, 'boot-1');
  recorder.setPlan(plan);
  recorder.setInstanceId('i-test');
  const outcome = await runPlan(plan, {
    config: config(),
    log: mem.log,
    host,
    instanceId: 'i-test',
    recorder,
    notify: { status() {}, flush: async () => {} },
    stop: opts.stop ?? new AbortController().signal,
    random: () => 0,
  });
  const errors = mem.records.filter((r) => r.level === 'error').map((r) => String(r.msg));
  return { outcome, errors, ...mem };
}

