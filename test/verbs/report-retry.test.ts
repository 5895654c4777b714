// `postjoin report --retry-for`, what the packaged postjoin-report.service runs: it tries again with a growing wait
// while the API server is down, delivers as soon as it is back, gives up after its bound (exit 1, one error line),
// and a SIGTERM ends it at once, the outcome still pending. Each try is one line in the log and one in state.json.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { BUNDLE, logLines, taskList } from '../helpers/cli.js';
import { eventsOn, handoffNode, oursOn, type HandoffNode } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());
t.afterEach(() => api.mode('ok'));

/** A `report` in the background, its stderr (the log) readable while it runs. */
function startReport(h: HandoffNode, args: string[]) {
  // Through env(1) without NODE_OPTIONS: the test runner adds its process-tracking loader to every node it spawns, and
  // that loader's signal-exit handlers would turn a death by SIGTERM into an exit code.
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, BUNDLE, 'report', '--config', h.configPath, '--state-dir', h.stateDir, ...args], {
    env: { ...process.env, JOURNAL_STREAM: '', NOTIFY_SOCKET: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void done.then(() => clearTimeout(timer));
  return { child, done, messages: () => logLines(stderr).map((l) => String(l.msg)), lines: () => logLines(stderr), stdout: () => stdout };
}

async function waitFor(what: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

const stateOf = async (h: HandoffNode) => JSON.parse(await readFile(join(h.stateDir, 'state.json'), 'utf8'));

async function pendingNode(t: Test): Promise<HandoffNode> {
  const h = await handoffNode(t, api, { kubernetes: 'timeout: 1s' });
  await h.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  await api.mode('closed');
  t.equal((await h.run()).code, 0);
  t.match((await stateOf(h)).report, { made: false, tries: 1 });
  return h;
}

t.test('the server down, then back: tries again with a growing wait, and delivers once it is back', async (t) => {
  const h = await pendingNode(t);
  const r = startReport(h, ['--retry-for', '2m', '--retry-delay', '200ms']);
  await waitFor(() => r.messages().filter((m) => m.startsWith('could not report')).length >= 3);
  const whileDown = r.lines().filter((l) => String(l.msg).startsWith('could not report'));
  await api.mode('ok');
  const end = await r.done;
  t.equal(end.code, 0, 'delivered: exit 0');
  for (const [i, l] of whileDown.entries()) {
    t.equal(l.level, 'warn');
    // Connection refused, or on a loaded machine the 1 s kubernetes.timeout passing first (the exec plugin, a retry).
    t.match(String(l.msg), new RegExp(`\\(try ${i + 2}, pending since \\S+\\): condition postjoin\\.io/Ready=True/Succeeded: .*(connection refused|kubernetes\\.timeout).*; next try in \\S+ \\(giving up at \\S+\\)$`), String(l.msg));
  }
  const waits = whileDown.map((l) => Number(l.next_try_ms));
  t.ok(waits.every((w) => w >= 100), `each wait at least half the first delay: ${waits.join(', ')} ms`);
  t.ok(waits[2]! > waits[0]!, `the wait grows: ${waits.join(', ')} ms`);
  // The server may come back in the middle of a try (the condition made, the label not yet): a later try sends the rest.
  const failed = r.lines().filter((l) => String(l.msg).startsWith('could not report'));
  t.match(r.messages().at(-1), /^reported .*event PostjoinSucceeded to Node /);
  t.match(oursOn(api, h.node), [{ status: 'True', reason: 'Succeeded' }]);
  t.equal(eventsOn(api, h.node).length, 1);
  t.match((await stateOf(h)).report, { made: true, tries: failed.length + 2 });
});

t.test('the server never back: gives up after --retry-for, exit 1, one error line; the outcome stays pending', async (t) => {
  const h = await pendingNode(t);
  const r = startReport(h, ['--retry-for', '3s', '--retry-delay', '300ms']);
  const end = await r.done;
  t.equal(end.code, 1);
  const errors = r.lines().filter((l) => l.level === 'error');
  t.equal(errors.length, 1, 'one error line');
  t.match(String(errors[0]?.msg), /^gave up after 3s: the report to Node \S+ is still pending in state\.json after \d+ tries \(the last: condition postjoin\.io\/Ready=True\/Succeeded: .*(connection refused|kubernetes\.timeout).*\); the next boot reports again, or run postjoin report \(or systemctl start postjoin-report\) once the API server is back$/);
  const state = await stateOf(h);
  t.match(state.report, { made: false, missing: ['condition', 'label', 'event'] });
  t.ok(state.report.tries >= 3, `the tries are recorded (${state.report.tries})`);
});

t.test('SIGTERM while it waits for the next try: it ends at once by the signal, the outcome still pending', async (t) => {
  const h = await pendingNode(t);
  const r = startReport(h, ['--retry-for', '10m', '--retry-delay', '1m']);
  await waitFor(() => r.messages().some((m) => m.startsWith('could not report')));
  r.child.kill('SIGTERM');
  const end = await r.done;
  t.equal(end.signal, 'SIGTERM', 'it ends by the signal, as systemd expects of a stopped unit (not a failure)');
  t.match(r.messages().at(-1), /^stopped by SIGTERM: the report to Node \S+ stays pending in state\.json/);
  t.match((await stateOf(h)).report, { made: false, tries: 2 });
});

t.test('bad flags are usage errors: exit 2', async (t) => {
  const h = await handoffNode(t, api);
  for (const args of [['--retry-for', '10'], ['--retry-for', '0s'], ['--retry-delay', '1s']]) {
    const r = startReport(h, args);
    t.equal((await r.done).code, 2, args.join(' '));
  }
});
