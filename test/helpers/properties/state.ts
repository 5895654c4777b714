// Properties of the state-file loader (src/state/state-store.ts, run-state.ts) and of `status`, which reads it:
// whatever is in state.json, the agent starts, and `status` prints, without crashing.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { isRunState, RUN_RESULTS, TASK_STATUSES, type RunState } from '../../../src/state/run-state.js';
import { readState, STATE_FILE, StateStore } from '../../../src/state/state-store.js';
import { statusJson, statusText } from '../../../src/report/status-view.js';
import { fail } from './checks.js';
import type { PropertyDef } from './harness.js';
import { mutate, mutations, type Mutation } from './tasks.js';

const iso = fc.integer({ min: 0, max: 4_102_444_800_000 }).map((ms) => new Date(ms).toISOString());
const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,20}$/);

const taskRecord = fc.record(
  {
    name,
    source: fc.string({ maxLength: 30 }),
    kind: fc.constantFrom('exec', 'script', 'file', 'pull', 'unit', 'wait', 'parallel'),
    status: fc.constantFrom(...TASK_STATUSES),
    attempts: fc.nat({ max: 101 }),
    startedAt: iso,
    durationMs: fc.nat(),
    exitCode: fc.option(fc.integer({ min: -1, max: 255 }), { nil: null }),
    hash: fc.stringMatching(/^sha256:[0-9a-f]{64}$/),
    group: name,
    error: fc.string({ maxLength: 40 }),
  },
  { requiredKeys: ['name', 'source', 'kind', 'status', 'attempts'] },
);

/** A state file as a run writes it. */
export const runState: fc.Arbitrary<RunState> = fc.record(
  {
    version: fc.constant(1 as const),
    instanceId: fc.string({ maxLength: 20 }),
    bootId: fc.uuid(),
    startedAt: iso,
    finishedAt: iso,
    result: fc.constantFrom(...RUN_RESULTS),
    exitCode: fc.integer({ min: 0, max: 4 }),
    message: fc.string({ maxLength: 40 }),
    tasks: fc.array(taskRecord, { maxLength: 5 }),
    done: fc.dictionary(name, fc.record({ instanceId: fc.string({ maxLength: 20 }), hash: fc.string({ maxLength: 70 }), at: iso }), { maxKeys: 4 }),
  },
  { requiredKeys: ['version', 'startedAt', 'result', 'tasks', 'done'] },
) as fc.Arbitrary<RunState>;

/** What may be in state.json: a real state, one cut short (power loss before the rename era, a full disk), edited, or junk. */
export const stateFileBytes: fc.Arbitrary<Buffer> = fc.oneof(
  runState.map((s) => Buffer.from(`${JSON.stringify(s, null, 2)}\n`)),
  fc.tuple(runState, fc.nat()).map(([s, cut]) => {
    const b = Buffer.from(`${JSON.stringify(s, null, 2)}\n`);
    return b.subarray(0, cut % (b.length + 1));
  }),
  fc.tuple(runState, mutations).map(([s, ms]: [RunState, Mutation[]]) => Buffer.from(mutate(JSON.stringify(s), ms))),
  fc.tuple(runState, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('version', 'tasks', 'done', 'result', 'startedAt', '__proto__', 'constructor')).map(([s, v, k]) =>
    Buffer.from(JSON.stringify({ ...s, [k]: v })),
  ),
  fc.tuple(runState, fc.jsonValue({ maxDepth: 2 }), fc.constantFrom('name', 'kind', 'status', 'attempts', 'durationMs', 'exitCode', 'startedAt', 'group', 'error')).map(([s, v, k]) =>
    Buffer.from(JSON.stringify({ ...s, tasks: [...s.tasks, { name: 'x', kind: 'exec', status: 'succeeded', attempts: 1, [k]: v }] })),
  ),
  fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
);

const dir = mkdtempSync(join(tmpdir(), 'postjoin-prop-state-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const silent = pino({ level: 'silent' });

export const stateProperties = [
  {
    parser: 'state',
    name: 'whatever state.json holds, the agent opens its state dir: a valid state is kept, anything else moved aside, nothing thrown',
    arbitrary: stateFileBytes,
    runs: 500,
    async check(bytes: Buffer) {
      const d = mkdtempSync(join(dir, 'case-'));
      try {
        writeFileSync(join(d, STATE_FILE), bytes);
        const before = await readState(d);
        const store = await StateStore.open(d, silent);
        const left = readdirSync(d);
        if (before.kind === 'ok') {
          if (!store.previous || !isRunState(store.previous)) fail('a valid state was not kept');
          if (!left.includes(STATE_FILE)) fail('a valid state file was moved');
        } else {
          if (store.previous !== undefined) fail(`an unreadable state (${JSON.stringify(before)}) counts as previous`);
          if (left.includes(STATE_FILE) || !left.some((n) => n.startsWith(`${STATE_FILE}.corrupt-`))) fail(`an unreadable state was not moved aside: ${left.join(', ')}`);
        }
      } finally {
        rmSync(d, { recursive: true, force: true });
      }
    },
  } satisfies PropertyDef<Buffer>,
  {
    parser: 'state',
    name: 'status prints any state the loader accepts, as text and as JSON, without throwing',
    arbitrary: stateFileBytes,
    runs: 1000,
    check(bytes: Buffer) {
      let value: unknown;
      try {
        value = JSON.parse(bytes.toString('utf8'));
      } catch {
        return;
      }
      if (!isRunState(value)) return;
      const text = statusText(value);
      const json = JSON.parse(statusJson(value)) as { result: unknown; tasks: unknown[] };
      if (typeof text !== 'string' || json.result !== value.result || json.tasks.length !== value.tasks.length) fail('status lost the state');
    },
  } satisfies PropertyDef<Buffer>,
  {
    parser: 'state',
    name: 'a state file cut anywhere short of its end is never taken for a valid state with fewer tasks',
    arbitrary: fc.tuple(runState, fc.nat()),
    runs: 1000,
    check([s, cut]: [RunState, number]) {
      const full = `${JSON.stringify(s, null, 2)}\n`;
      const at = cut % full.length;
      let value: unknown;
      try {
        value = JSON.parse(full.slice(0, at));
      } catch {
        return;
      }
      // Only trailing whitespace may be cut off and still parse: then it is the same state.
      if (isRunState(value) && JSON.stringify(value) !== JSON.stringify(s)) fail(`cut at ${at}, a different valid state`);
    },
  } satisfies PropertyDef<[RunState, number]>,
] as const;
