// The logger: pino JSON lines on the run's stdout, each with its syslog priority when stdout is the journal.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { BUNDLE, taskList, workspace } from '../helpers/cli.js';

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
  t.match(JSON.parse(lines.find((l) => l.includes('"msg":"run failed'))!.slice(3)), { level: 'warn', msg: /^run failed: task "hard" failed/ });
  t.notMatch(text, /hunter2/, 'env values are never logged');
});

t.test('JOURNAL_STREAM that names another file, or none, means plain JSON lines', async (t) => {
  for (const mode of ['other', 'unset'] as const) {
    const text = await runWithJournal(mode);
    t.ok(text.trim().split('\n').every((l) => l.startsWith('{"level":')), mode);
  }
});
