// What a task's environment holds, through the bundle: systemd's per-service variables (NOTIFY_SOCKET,
// WATCHDOG_*, LISTEN_*) belong to the agent, not to the programs it runs. With NotifyAccess=all a task holding
// NOTIFY_SOCKET could rewrite the unit's status or its MAINPID. A task file that sets one itself gets it.
// (The same under real systemd: test/system/notify-isolation.test.ts.)
import t from 'tap';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';

const SYSTEMD_VARS = {
  NOTIFY_SOCKET: '/run/systemd/notify-test-socket',
  WATCHDOG_USEC: '30000000',
  WATCHDOG_PID: '1',
  LISTEN_FDS: '1',
  LISTEN_PID: '1',
  LISTEN_FDNAMES: 'test',
};

/** The env a task printed (KEY=VALUE lines on stdout, as the agent forwarded them to its log). */
function printedEnv(stdout: string, task: string): Record<string, string> {
  const lines = logLines(stdout).filter((l) => l.task === task && l.stream === 'stdout');
  return Object.fromEntries(lines.map((l) => String(l.msg)).filter((m) => m.includes('=')).map((m) => [m.slice(0, m.indexOf('=')), m.slice(m.indexOf('=') + 1)]));
}

t.test('NOTIFY_SOCKET, WATCHDOG_* and LISTEN_* in the agent\'s environment reach no task (exec and script); the rest of the environment does', async (t) => {
  const ws = await workspace();
  await ws.task(
    '10.yaml',
    taskList(`  - { name: exec-env, exec: { command: /usr/bin/env } }
  - { name: script-env, script: "env" }
  - { name: own-env, exec: { command: /usr/bin/env }, env: { NOTIFY_SOCKET: /run/explicit.sock, LISTEN_FDS: "3" } }
`),
  );
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { ...SYSTEMD_VARS, POSTJOIN_TEST_KEEP: 'kept' } });
  t.equal(r.code, 0, r.stdout.slice(-2000) + r.stderr);
  for (const task of ['exec-env', 'script-env']) {
    const env = printedEnv(r.stdout, task);
    t.equal(env.POSTJOIN_TEST_KEEP, 'kept', `${task}: the agent's other variables are inherited (the task printed its env)`);
    t.same(Object.keys(env).filter((k) => k in SYSTEMD_VARS), [], `${task}: none of ${Object.keys(SYSTEMD_VARS).join(', ')}`);
  }
  const own = printedEnv(r.stdout, 'own-env');
  t.equal(own.NOTIFY_SOCKET, '/run/explicit.sock', "a task's own env wins: the task file's author set it");
  t.equal(own.LISTEN_FDS, '3');
  t.equal(own.WATCHDOG_USEC, undefined, 'what the task did not set itself is still removed');
});
