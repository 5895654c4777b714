import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createStatusReporter } from '../src/host/notify/systemd-notify.js';
import { createOutputForwarder } from '../src/runner/task-output.js';
import { BUNDLE, taskList, workspace } from './helpers/cli.js';
import { memoryLogger } from './helpers/memory-log.js';

/**
 * Runs the real agent with stdout on a file, as journald's stream would be, and JOURNAL_STREAM naming that
 * file (or not). The plan has a success, a continued failure (a warning) and an essential failure (an error).
 */
async function runWithJournal(journalStreamFor: 'match' | 'other' | 'unset'): Promise<string> {
  const ws = await workspace();
  await ws.task('10.yaml', taskList(`  - { name: fine, env: { SECRET: hunter2 }, script: "echo fine" }
  - { name: soft, onFailure: continue, script: "exit 1" }
  - { name: hard, script: "exit 2" }
`));
  const out = join(ws.dir, 'stdout');
  await writeFile(out, '');
  const st = await stat(out, { bigint: true });
  const env: NodeJS.ProcessEnv = { ...process.env, NOTIFY_SOCKET: '' };
  if (journalStreamFor === 'match') env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  else if (journalStreamFor === 'other') env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1n}`;
  else delete env.JOURNAL_STREAM;
  const fd = openSync(out, 'a');
  const r = spawnSync(process.execPath, [BUNDLE, 'run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env, stdio: ['ignore', fd, 'pipe'] });
  closeSync(fd);
  if (r.status !== 1) throw new Error(`expected exit 1, got ${r.status}: ${r.stderr}`);
  return readFile(out, 'utf8');
}

t.test('when stdout is the journal, each line carries its syslog priority', async (t) => {
  const text = await runWithJournal('match');
  const lines = text.trim().split('\n');
  t.ok(lines.every((l) => /^<[346]>\{"level":/.test(l)), 'every line is prefixed');
  const errors = lines.filter((l) => l.startsWith('<3>'));
  t.equal(errors.length, 1, 'exactly one error line: the failing task');
  t.match(JSON.parse(errors[0]!.slice(3)), { level: 'error', task: 'hard', kind: 'script', msg: 'task hard (3/3) failed: script exited with code 2' });
  t.ok(lines.some((l) => l.startsWith('<4>') && l.includes('"task":"soft"')), 'the continued failure is a warning');
  t.ok(lines.some((l) => l.startsWith('<6>') && l.includes('"msg":"fine"')), 'task output is info');
  t.match(JSON.parse(lines.at(-1)!.slice(3)), { level: 'warn', msg: /^run failed: task "hard" failed/ });
  t.notMatch(text, /hunter2/, 'env values are never logged');
});

t.test('JOURNAL_STREAM that names another file, or none, means plain JSON lines', async (t) => {
  for (const mode of ['other', 'unset'] as const) {
    const text = await runWithJournal(mode);
    t.ok(text.trim().split('\n').every((l) => l.startsWith('{"level":')), mode);
  }
});

t.test('task output is bounded per task; the rest is counted, not forwarded', async (t) => {
  const mem = memoryLogger();
  const fwd = createOutputForwarder(mem.log, 100);
  for (let i = 0; i < 20; i++) fwd.line('stdout', `line ${i} ${'x'.repeat(10)}`, false);
  fwd.finish();
  const lines = mem.records.filter((r) => r.stream === 'stdout' && r.level === 'info');
  t.equal(lines.length, 5, 'only what fits in the budget');
  t.match(mem.records.find((r) => r.level === 'warn'), { msg: /task output passed 0 KiB; the rest is not forwarded/ });
  t.match(mem.records.at(-1), { dropped_bytes: 5 * 18 + 10 * 19, msg: '280 more bytes of task output were not forwarded' });
});

t.test('systemd-notify: statuses reach the notify socket, rate-limited, the last one always sent', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-notify-'));
  const sock = join(dir, 'notify');
  // A real AF_UNIX datagram socket, as systemd's; Node cannot open one, python can.
  const listener = spawn('python3', ['-u', '-c', `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    print(s.recv(4096).decode(), flush=True)
`, sock]);
  t.teardown(() => void listener.kill());
  let got = '';
  listener.stdout.on('data', (c: Buffer) => (got += c.toString()));
  while (!got.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  const reporter = createStatusReporter({ ...process.env, NOTIFY_SOCKET: sock });
  for (let i = 1; i <= 20; i++) reporter.status(`task ${i}/20 x`);
  await reporter.flush();
  reporter.status('done: all tasks succeeded');
  await reporter.flush();
  const end = Date.now() + 3000;
  while (!got.includes('done: all tasks succeeded') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  const statuses = got.split('\n').filter((l) => l.startsWith('STATUS='));
  t.ok(statuses.length <= 3, `rate-limited: ${statuses.length} sends for 21 updates`);
  t.ok(statuses.includes('STATUS=task 20/20 x'), 'the latest pending status wins');
  t.equal(statuses.at(-1), 'STATUS=done: all tasks succeeded');
});

t.test('without NOTIFY_SOCKET, or without the binary, reporting is a silent no-op', async (t) => {
  const none = createStatusReporter({});
  none.status('x');
  await none.flush();
  const missing = createStatusReporter({ NOTIFY_SOCKET: '/nonexistent' }, '/nonexistent/systemd-notify');
  missing.status('x');
  await t.resolves(missing.flush());
});
