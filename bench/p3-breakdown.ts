// P3's "where does a task's time go": the mechanisms a postjoin exec task is made of, each timed alone in one
// Node process, 100 times in a row: spawning /bin/true with node:child_process (as Node forks: synchronously,
// from a process of this size), the same through execa with the options a task's spawn gives it (what execa
// itself adds), the same through postjoin's runInProcessGroup (src/host/process/process-group.ts: execa, the
// environment, the marker, line splitting, the leftover check), and the state file written the two ways a task
// writes it (a "running" marker without fsync, then a durable record: fsync of the file and of its directory).
// execa is loaded before the timing, as `run` loads it during the readiness wait. Run by p3-per-task.ts; prints JSON.
//
//   node bench/out/p3-breakdown.js STATE_DIR
import { spawn } from 'node:child_process';
import { mkdir, open, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SPAWN_BASE, loadExeca } from '../src/host/process/lazy-execa.js';
import { runInProcessGroup } from '../src/host/process/process-group.js';

const N = 100;
const dir = process.argv[2] ?? '/tmp';
await mkdir(dir, { recursive: true, mode: 0o700 });
// A state file the size of a 100-task run's.
const state = JSON.stringify({ version: 1, tasks: Array.from({ length: 100 }, (_, i) => ({ name: `t${i}`, source: 'file:/etc/postjoin/tasks.d/10.yaml#tasks[0]', kind: 'exec', status: 'succeeded', attempts: 1, durationMs: 12, exitCode: 0, hash: 'x'.repeat(64) })) }, null, 2);

async function each(fn: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await fn(i);
  return Math.round(((performance.now() - t0) / N) * 100) / 100;
}

async function write(durable: boolean): Promise<void> {
  const tmp = join(dir, '.state.json.tmp');
  const fh = await open(tmp, 'w', 0o600);
  await fh.writeFile(state);
  if (durable) await fh.sync();
  await fh.close();
  await rename(tmp, join(dir, 'state.json'));
  if (!durable) return;
  const d = await open(dir, 'r');
  await d.sync();
  await d.close();
}

const spawnMs = await each(() => new Promise((resolve) => spawn('/bin/true', [], { stdio: ['ignore', 'pipe', 'pipe'], detached: true }).on('close', resolve)));
const { execa } = await loadExeca();
const execaMs = await each(() => execa('/bin/true', [], { ...SPAWN_BASE, detached: true, buffer: false, env: { ...process.env, POSTJOIN_TASK_RUN: 'x' }, extendEnv: false }));
const never = new AbortController().signal;
const processGroupMs = await each(() => runInProcessGroup({ command: '/bin/true', args: [], signal: never, onLine: () => {} }));
const markerWriteMs = await each(() => write(false));
const durableWriteMs = await each(() => write(true));
await writeFile(join(dir, 'done'), '');
process.stdout.write(`${JSON.stringify({ spawnMs, execaMs, processGroupMs, markerWriteMs, durableWriteMs, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) })}\n`);
