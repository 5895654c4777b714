// Fault injection, processes, end to end through the bundle: SIGTERM from systemd while a task tree runs that
// ignores SIGTERM and has a daemon escaping with setsid; and a task timeout with a daemon that outlives its task.
// Verdicts: the process group is gone within the kill grace, what escaped is reported by PID, state is recorded,
// the exit is non-zero (SIGTERM) or the run goes on (timeout with onFailure: continue).
// (SIGKILL in the middle of a once task, then a restart: test/verbs/cli.test.ts; in-process: test/host/process/process-group.test.ts.)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';
import { alive } from '../helpers/process-alive.js';

async function pidsIn(file: string, count: number): Promise<number[]> {
  for (let i = 0; i < 500; i++) {
    const pids = (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean).map(Number);
    if (pids.length >= count) return pids;
    await new Promise((r) => setTimeout(r, 20));
  }
  return [];
}

/** A tree: the script, a child that ignores SIGTERM, and a daemon that leaves the group with setsid. PIDs go to `pids`. */
const tree = (dir: string) =>
  `bash -c 'trap "" TERM; echo $$ >> ${dir}/pids; while :; do sleep 0.1; done' & setsid bash -c 'echo $$ >> ${dir}/escaped; exec sleep 300' & echo $$ >> ${dir}/pids; wait`;

t.test('SIGTERM from systemd: the task tree is gone within the kill grace (a SIGTERM-ignoring child included), the escaped daemon is reported, state says failed, exit 1', async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: tree, script: ${JSON.stringify(tree(ws.dir))} }\n  - { name: after, exec: { command: /bin/true } }\n`));
  let agent = 0;
  const run = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { onSpawn: (pid) => (agent = pid) });
  const group = await pidsIn(join(ws.dir, 'pids'), 2);
  const [escaped] = await pidsIn(join(ws.dir, 'escaped'), 1);
  t.teardown(() => {
    for (const pid of [...group, escaped ?? 0]) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  t.equal(group.length, 2, 'the script and its SIGTERM-ignoring child started');
  t.ok(escaped, 'the daemon started');
  const sent = Date.now();
  process.kill(agent, 'SIGTERM');
  const r = await run;
  const took = Date.now() - sent;
  t.equal(r.code, 1, r.stdout.slice(-2000));
  t.ok(took < 5_000 + 5_000, `the agent exited ${took} ms after SIGTERM (grace 5 s)`);
  t.ok(took >= 4_000, 'it gave the SIGTERM-ignoring child its grace before SIGKILL');
  for (const pid of group) t.notOk(alive(pid), `pid ${pid} of the task's group is gone`);
  t.ok(alive(escaped!), 'the daemon that left the group with setsid is still running…');
  const lines = logLines(r.stdout);
  t.ok(
    lines.some((l) => l.level === 'warn' && l.task === 'tree' && String(l.msg).startsWith('processes escaped the task\'s process group and are still running: ') && String(l.msg).includes(`pid ${escaped} (sleep 300)`)),
    '…and reported by PID and command',
  );
  t.ok(lines.some((l) => l.msg === 'received SIGTERM; stopping the running task and recording state'));
  const s = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { result: string; tasks: { name: string; status: string; error?: string }[] };
  t.equal(s.result, 'failed');
  t.match(s.tasks, [{ name: 'tree', status: 'failed', error: /^stopped by SIGTERM/ }, { name: 'after', status: 'not-run' }]);
});

t.test('a task timeout with a daemon that outlives its task: the group is killed, the escaped daemon reported, the run goes on', async (t) => {
  const ws = await workspace();
  await ws.task(
    '10.yaml',
    taskList(`  - { name: daemonizer, timeout: 1s, onFailure: continue, script: ${JSON.stringify(tree(ws.dir))} }
  - { name: after, exec: { command: /bin/sh, args: [-c, "touch ${ws.dir}/after"] } }
`),
  );
  const started = Date.now();
  const run = runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  const group = await pidsIn(join(ws.dir, 'pids'), 2);
  const [escaped] = await pidsIn(join(ws.dir, 'escaped'), 1);
  t.teardown(() => {
    for (const pid of [...group, escaped ?? 0]) if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  });
  const r = await run;
  t.equal(r.code, 0, r.stdout.slice(-2000));
  // The task's own time, from the state, so the agent's start-up on a loaded machine does not count: its 1 s
  // timeout, then at most the 5 s kill grace, then the short wait for the group to be gone.
  const s = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { tasks: { name: string; durationMs: number }[] };
  const took = s.tasks.find((x) => x.name === 'daemonizer')!.durationMs;
  t.ok(took >= 1_000 && took < 1_000 + 5_000 + 3_000, `timeout, then at most the kill grace (the task took ${took} ms)`);
  t.ok(Date.now() - started < 1_000 + 5_000 + 15_000, 'and the whole run did not wait on the daemon');
  for (const pid of group) t.notOk(alive(pid), `pid ${pid} of the task's group is gone`);
  t.ok(alive(escaped!), 'the escaped daemon outlived the kill, as nothing can reach it through the group');
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => l.level === 'warn' && l.task === 'daemonizer' && String(l.msg).includes(`still running: pid ${escaped} (sleep 300)`)), 'reported by PID and command');
  t.ok(lines.some((l) => l.level === 'warn' && l.task === 'daemonizer' && /^task daemonizer \(1\/2\) failed, continuing \(onFailure: continue\): timed out after 1s/.test(String(l.msg))));
  await readFile(join(ws.dir, 'after')).then(() => t.pass('the next task ran'));
});
