// One run at a time per state dir (README "Logs, status and state"), end to end through the bundle. Each race the
// outside review found is made deterministic with a preload (test/helpers/fs-hooks.cjs) that holds one run at the
// exact fs call where the window is, while a second run starts.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { logLines, runCli, taskList, workspace, type Workspace } from '../helpers/cli.js';
import { fsHooks } from '../helpers/fs-hooks.js';

const exists = (p: string) => stat(p).then(() => true, () => false);

async function waitForFile(p: string, timeoutMs = 20_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  while (!(await exists(p))) {
    if (Date.now() > end) throw new Error(`${p} did not appear`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return readFile(p, 'utf8');
}

/** A workspace whose one `once` task appends a line to `marker`. */
async function onceWorkspace(): Promise<Workspace & { marker: string; run(env?: NodeJS.ProcessEnv): ReturnType<typeof runCli> }> {
  const ws = await workspace();
  const marker = join(ws.dir, 'ran');
  await ws.task('10.yaml', taskList(`  - { name: once-task, script: "echo x >> ${marker}" }\n`));
  return { ...ws, marker, run: (env) => runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], env ? { env } : {}) };
}

const lineCount = async (p: string) => (await readFile(p, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;

t.test('(a) the state is read only while the lock is held: a run paused at its state read keeps a second one out', async (t) => {
  const ws = await onceWorkspace();
  const paused = join(ws.dir, 'paused');
  const go = join(ws.dir, 'go');
  const first = ws.run(fsHooks([{ fn: 'readFile', path: '/state\\.json$', when: 'after', touch: paused, waitFor: go }]));
  const firstPid = Number(await waitForFile(paused));
  const second = await ws.run();
  t.equal(second.code, 2, second.stdout.slice(-1500));
  t.match(logLines(second.stdout).at(-1), { level: 'error', msg: new RegExp(`another postjoin run \\(pid ${firstPid}\\) is in progress`) });
  t.notOk(await exists(join(ws.stateDir, 'state.json')), 'the refused run wrote no state');
  await writeFile(go, '');
  t.equal((await first).code, 0);
  t.equal(await lineCount(ws.marker), 1, 'the once task ran once');
  t.match(JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout), { result: 'succeeded', tasks: [{ name: 'once-task', status: 'succeeded' }] });
});

t.test('(b) a run that has not yet written its lock record is not taken over', async (t) => {
  const ws = await onceWorkspace();
  const paused = join(ws.dir, 'paused');
  const go = join(ws.dir, 'go');
  // Held before its lock record is in place: right after it created run.lock (empty) and before writing its pid
  // into it, as the old lock did it; or before it renames the record into place, as an atomic write does.
  const hold = { touch: paused, waitFor: go };
  const first = ws.run(fsHooks([{ fn: 'open', path: '/run\\.lock$', when: 'after', ...hold }, { fn: 'rename', path: '/run\\.lock$', ...hold }]));
  const firstPid = Number(await waitForFile(paused));
  const second = await ws.run();
  t.equal(second.code, 2, second.stdout.slice(-1500));
  t.match(logLines(second.stdout).at(-1), { level: 'error', msg: new RegExp(`another postjoin run \\(pid ${firstPid}\\) is in progress`) });
  t.equal(await lineCount(ws.marker), 0, 'the refused run ran nothing');
  await writeFile(go, '');
  t.equal((await first).code, 0);
  t.equal(await lineCount(ws.marker), 1, 'the once task ran once');
});

t.test('(c) a run removes only its own lock record', async (t) => {
  const ws = await workspace();
  const started = join(ws.dir, 'started');
  const go = join(ws.dir, 'go');
  await ws.task('10.yaml', taskList(`  - { name: slow, script: "touch ${started}; while [ ! -e ${go} ]; do sleep 0.05; done" }\n`));
  const first = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  await waitForFile(started);
  const lockPath = join(ws.stateDir, 'run.lock');
  t.match(await readFile(lockPath, 'utf8'), /"pid":\s*\d+/, 'the run keeps a readable record of itself in run.lock');
  // Someone else's record in its place (what a run that took the lock over used to write).
  const foreign = '{"pid":4242,"bootId":"another-boot"}\n';
  await writeFile(lockPath, foreign);
  await writeFile(go, '');
  t.equal((await first).code, 0);
  t.equal(await readFile(lockPath, 'utf8').catch(() => 'removed'), foreign, 'the record it did not write is left alone');
});

t.test('(d) a stale record whose pid now belongs to a live "postjoin" process, from this boot or another, does not block a run', async (t) => {
  const holder = spawn('/bin/bash', ['-c', 'exec -a postjoin-holder sleep 30']);
  t.teardown(() => void holder.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 100));
  const lockRecords = [
    `${holder.pid}\n`, // the old format: a bare pid
    `${JSON.stringify({ pid: holder.pid, bootId: '00000000-0000-0000-0000-000000000000', startTime: 1, startedAt: '2026-01-01T00:00:00.000Z' })}\n`,
  ];
  for (const record of lockRecords) {
    const ws = await onceWorkspace();
    await mkdir(ws.stateDir, { mode: 0o700 });
    await writeFile(join(ws.stateDir, 'run.lock'), record);
    const r = await ws.run();
    t.equal(r.code, 0, r.stdout.slice(-1500));
    t.equal(await lineCount(ws.marker), 1, 'the task ran');
    t.notOk(await exists(join(ws.stateDir, 'run.lock')), 'the run removed the record it replaced the stale one with');
  }
});

t.test('a local user who binds the name derivable from the state dir alone (or an old boot\'s name) does not block a run', async (t) => {
  // The abstract namespace has no permissions: any process in the node's network namespace (a hostNetwork pod)
  // may bind any name. The lock's name must therefore not be something it can compute or reuse.
  const ws = await onceWorkspace();
  await mkdir(ws.stateDir, { mode: 0o700 });
  const { dev, ino } = await stat(ws.stateDir, { bigint: true });
  const squatter = createServer((s) => s.destroy());
  await new Promise<void>((r) => squatter.listen({ path: `\0postjoin-run-${dev}:${ino}` }, r));
  t.teardown(() => new Promise((r) => squatter.close(r)));
  const first = await ws.run();
  t.equal(first.code, 0, first.stdout);
  t.equal(await lineCount(ws.marker), 1);
  // The name the first run used is visible in /proc/net/unix while it runs; a squatter taking it afterwards
  // blocks at most a second run of the same boot, never the next boot's (another boot id, another name).
  const used = lockName(await readFile(join(ws.stateDir, 'lock.key')), 'boot-a', dev, ino);
  t.not(used, lockName(await readFile(join(ws.stateDir, 'lock.key')), 'boot-b', dev, ino));
  t.equal((await stat(join(ws.stateDir, 'lock.key'))).mode & 0o777, 0o600, 'the key that names the lock is root-only');
});

t.test('a process that is not a postjoin run holding the lock name: exit 2, naming the socket and how to find the holder', async (t) => {
  const ws = await onceWorkspace();
  // A first run makes the state dir and its lock key; the squatter then takes this boot's name.
  t.equal((await ws.run()).code, 0);
  const { dev, ino } = await stat(ws.stateDir, { bigint: true });
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  const name = lockName(await readFile(join(ws.stateDir, 'lock.key')), bootId, dev, ino);
  const squatter = createServer((s) => s.destroy());
  await new Promise<void>((r) => squatter.listen({ path: `\0${name}` }, r));
  t.teardown(() => new Promise((r) => squatter.close(r)));
  const r = await ws.run();
  t.equal(r.code, 2);
  t.match(logLines(r.stdout).at(-1), { level: 'error', msg: `state dir ${ws.stateDir}: another process holds this state dir's run lock (the abstract socket @${name}) and does not say it is a postjoin run; \`ss -xlp | grep ${name}\` names it; no task was started, and this run cannot be recorded` });
  t.equal(await lineCount(ws.marker), 1);
});

/** The lock's name as the agent derives it (src/state/run-lock.ts), recomputed here from its parts. */
function lockName(key: Buffer, bootId: string, dev: bigint, ino: bigint): string {
  return `postjoin-run-${createHmac('sha256', key).update(`${bootId}:${dev}:${ino}`).digest('hex').slice(0, 32)}`;
}
