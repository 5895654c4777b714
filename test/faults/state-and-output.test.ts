import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { requireRootAndBins } from '../harness/index.js';
import { BUNDLE, logLines, runCli, runSummary, taskList, workspace } from '../helpers/cli.js';

/** Runs the bundle inside a private mount namespace, so a tmpfs we mount there disappears with it. */
function runInMountNs(setup: string, args: string[]) {
  const cmd = `${setup} && exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BUNDLE)} ${args.map((a) => JSON.stringify(a)).join(' ')}`;
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', cmd], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' } });
}

t.test('a state dir that cannot be written: exit 2, nothing runs, the reason is logged', async (t) => {
  if (!(await requireRootAndBins(t, { chattr: 'e2fsprogs' }))) return;
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: a, script: "touch ${ws.dir}/ran" }\n`));
  await mkdir(ws.stateDir, { mode: 0o700 });
  // Permission bits do not stop root; the immutable attribute does.
  spawnSync('chattr', ['+i', ws.stateDir]);
  t.teardown(() => void spawnSync('chattr', ['-i', ws.stateDir]));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 2);
  t.match(logLines(r.stdout).at(-1), { level: 'error', msg: /^state dir .* is not usable: EPERM.*; no task was started, and this run cannot be recorded$/ });
  await t.rejects(readFile(join(ws.dir, 'ran')));
});

t.test('a full state dir (a 16 KiB tmpfs): exit 2 before anything runs', async (t) => {
  if (!(await requireRootAndBins(t, { unshare: 'util-linux', mount: 'mount' }))) return;
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: a, script: "touch ${ws.dir}/ran" }\n`));
  await mkdir(ws.stateDir);
  const r = runInMountNs(`mount -t tmpfs -o size=16k tmpfs ${ws.stateDir} && head -c 16384 /dev/zero > ${ws.stateDir}/filler 2>/dev/null; true`, [
    'run', '--config', ws.configPath, '--state-dir', ws.stateDir,
  ]);
  t.equal(r.status, 2, r.stdout + r.stderr);
  t.match(logLines(r.stdout).at(-1), { level: 'error', msg: /not usable: ENOSPC/ });
  await t.rejects(readFile(join(ws.dir, 'ran')));
});

t.test('the state dir filling up mid-run stops the run before the next task', async (t) => {
  if (!(await requireRootAndBins(t, { unshare: 'util-linux', mount: 'mount' }))) return;
  const ws = await workspace();
  await mkdir(ws.stateDir);
  await ws.task('10.yaml', taskList(`  - { name: fill, script: "head -c 1048576 /dev/zero > ${ws.stateDir}/filler || true" }\n  - { name: next, script: "touch ${ws.dir}/next-ran" }\n`));
  const r = runInMountNs(`mount -t tmpfs -o size=64k tmpfs ${ws.stateDir}`, ['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.status, 1, r.stdout + r.stderr);
  t.ok(logLines(r.stdout).some((l) => /cannot write the state file: ENOSPC.*stopping so that no task runs unrecorded/.test(String(l.msg))));
  await t.rejects(readFile(join(ws.dir, 'next-ran')), 'the next task did not run unrecorded');
});

/** Runs one chatty task (about `megabytes` of output) and the next task, under /usr/bin/time. */
async function chattyRun(megabytes: number) {
  const ws = await workspace();
  // 2,000,000 lines of 51 bytes is ~100 MB; the rest is one long line of x.
  const lines = Math.round((megabytes * 1_000_000 - 20_000_000) / 51);
  await ws.task('10.yaml', taskList(`  - { name: chatty, script: "awk 'BEGIN { for (i = 0; i < ${lines}; i++) print \\"postjoin says hello, at some length, to fill a line\\" }'; head -c 20000000 /dev/zero | tr '\\\\0' x; echo; echo last-line >&2" }\n  - { name: after, script: "echo after" }\n`));
  const r = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, BUNDLE, 'run', '--config', ws.configPath, '--state-dir', ws.stateDir], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    // The product's memory, not the test runner's coverage bookkeeping in it.
    env: { ...process.env, JOURNAL_STREAM: '', NODE_V8_COVERAGE: '' },
  });
  return { r, rss: Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]) };
}

t.test('a task printing 100 MB: bounded memory, a truncation notice, and the task completes', async (t) => {
  if (!(await requireRootAndBins(t, { time: 'time' }))) return;
  const { r, rss } = await chattyRun(120);
  t.equal(r.status, 0, r.stderr.slice(-2000));
  // Absolute: far below the output's size. (On a quiet machine about 105 MB; the GC lags on a loaded one.)
  t.ok(rss > 0 && rss < 200 * 1024, `peak RSS ${Math.round(rss / 1024)} MB stays bounded while 120 MB of output pass through`);
  // Relative: twice the output costs no more memory, so nothing grows with it.
  const twice = await chattyRun(240);
  t.equal(twice.r.status, 0);
  t.ok(twice.rss - rss < 32 * 1024, `peak RSS with 240 MB of output (${Math.round(twice.rss / 1024)} MB) is not more than with 120 MB (${Math.round(rss / 1024)} MB) plus 32 MB`);
  const lines = logLines(r.stdout);
  const forwarded = lines.filter((l) => l.task === 'chatty' && l.stream && l.level === 'info');
  const bytes = forwarded.reduce((n, l) => n + Buffer.byteLength(String(l.msg)) + 1, 0);
  t.ok(bytes <= 64 * 1024, `forwarded ${bytes} bytes of output, within 64 KiB`);
  t.ok(lines.some((l) => l.task === 'chatty' && l.level === 'warn' && /task output passed 64 KiB; the rest is not forwarded/.test(String(l.msg))));
  t.ok(lines.some((l) => l.task === 'chatty' && typeof l.dropped_bytes === 'number' && (l.dropped_bytes as number) > 100_000_000));
  t.ok(lines.some((l) => l.task === 'after' && l.msg === 'after'), 'the next task ran');
  t.match(runSummary(lines), { msg: /^run succeeded: 2 succeeded/ });
  t.ok(r.stdout.length < 1 << 20, 'the journal got well under a megabyte');
});

t.test('file tasks: a symlinked parent cannot carry a write outside policy.paths', async (t) => {
  const ws = await workspace('policy: { paths: ["/tmp/postjoin-test-*/allowed/*"] }\n');
  const { symlink } = await import('node:fs/promises');
  await mkdir(join(ws.dir, 'allowed'));
  await mkdir(join(ws.dir, 'forbidden'));
  await symlink(join(ws.dir, 'forbidden'), join(ws.dir, 'allowed/link'));
  await symlink(join(ws.dir, 'forbidden/target'), join(ws.dir, 'allowed/final-link'));
  await writeFile(join(ws.dir, 'forbidden/target'), 'original');
  await ws.task('10.yaml', taskList(`  - { name: ok, file: { path: ${ws.dir}/allowed/new/conf, content: fine } }
  - { name: final-symlink, file: { path: ${ws.dir}/allowed/final-link, content: replaced-the-link } }
  - { name: through-link, file: { path: ${ws.dir}/allowed/link/evil, content: evil } }
`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 1);
  t.equal(await readFile(join(ws.dir, 'allowed/new/conf'), 'utf8'), 'fine');
  t.equal(await readFile(join(ws.dir, 'forbidden/target'), 'utf8'), 'original', 'a symlink as the last component is replaced, not written through');
  t.equal(await readFile(join(ws.dir, 'allowed/final-link'), 'utf8'), 'replaced-the-link');
  await t.rejects(readFile(join(ws.dir, 'forbidden/evil')), 'nothing was written through the symlinked directory');
  t.ok(logLines(r.stdout).some((l) => l.level === 'error' && /allowed\/link\/evil resolves to .*\/forbidden\/evil through a symlink, which policy.paths does not allow/.test(String(l.msg))));

  const plan = await runCli(['validate', '--config', ws.configPath, await ws.task('20.yaml', taskList('  - { name: etc, file: { path: /etc/sudoers.d/x, content: y } }\n  - { name: dots, file: { path: /tmp/a/../b, content: y } }\n'))]);
  t.equal(plan.code, 2);
  t.match(plan.stdout, /task "etc": path \/etc\/sudoers.d\/x is not allowed \(policy.paths: \[\/tmp\/postjoin-test-\*\/allowed\/\*\]\)/);
  t.match(plan.stdout, /tasks\[1\]\.file\.path.*no "\." or "\.\." segments/);
});
