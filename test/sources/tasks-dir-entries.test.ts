// An entry of tasks.d named like a task file that is not a readable regular file (issue 11, item 5) used to be
// left out without a word, so the tasks behind it never ran. Now it is exit 4 (source unreadable), naming the
// entry, and nothing runs; a FIFO is never opened, so it cannot block the agent. A symlink to a regular file
// (baked AMIs use them) is read as the file.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import t from 'tap';
import { runCli, taskList, workspace, type Workspace } from '../helpers/cli.js';

/** A task that leaves a mark, in a file that sorts before the bad entry: it must not run either. */
async function markerTask(ws: Workspace): Promise<string> {
  const marker = join(ws.dir, 'ran');
  await ws.task('10-first.yaml', taskList(`  - { name: first, exec: { command: /bin/touch, args: [${marker}] } }\n`));
  return marker;
}

const KINDS: [string, string, (ws: Workspace, entry: string) => Promise<unknown>][] = [
  ['a dangling symlink', 'is a dangling symlink', (ws, entry) => symlink(join(ws.dir, 'gone.yaml'), entry)],
  ['a symlink loop', 'is a symlink loop', async (_ws, entry) => symlink(entry, entry)],
  ['a directory', 'is a directory', (_ws, entry) => mkdir(entry)],
  ['a FIFO', 'is a FIFO', async (_ws, entry) => execFileSync('mkfifo', [entry])],
  [
    'a socket',
    'is a socket',
    (_ws, entry) =>
      new Promise<void>((resolve) => {
        const server = createServer().listen(entry, () => resolve());
        t.teardown(() => new Promise<void>((r) => server.close(() => r())));
      }),
  ],
];

for (const [what, says, make] of KINDS) {
  t.test(`${what} named *.yaml in tasks.d: run and plan exit 4 naming it, and nothing runs`, async (t) => {
    const ws = await workspace();
    const marker = await markerTask(ws);
    const entry = join(ws.tasksDir, '20-bad.yaml');
    await make(ws, entry);
    for (const verb of ['plan', 'run']) {
      // A FIFO that were opened for reading would block with no writer: the generous timeout kills it, code null.
      const r = await runCli([verb, '--config', ws.configPath, '--state-dir', ws.stateDir], { timeoutMs: 30_000 });
      t.equal(r.code, 4, `${verb}: ${r.stderr}`);
      t.match(r.stdout + r.stderr, `file:${entry}: ${says}`, `${verb} names the entry`);
    }
    t.notOk(existsSync(marker), 'no task ran, not even the one before it');
    const status = await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']);
    t.match(JSON.parse(status.stdout), { result: 'source-error' });
  });
}

t.test('a symlink to a regular file is read as the file (baked AMIs link task files in)', async (t) => {
  const ws = await workspace();
  const marker = join(ws.dir, 'linked-ran');
  const real = join(ws.dir, 'real.yaml');
  await writeFile(real, taskList(`  - { name: linked, exec: { command: /bin/touch, args: [${marker}] } }\n`));
  await symlink(real, join(ws.tasksDir, '10-linked.yaml'));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0, r.stdout);
  t.ok(existsSync(marker), 'the linked task ran');
});

t.test('entries that are not task files by name are still not ours: a directory "sub", dot files', async (t) => {
  const ws = await workspace();
  await mkdir(join(ws.tasksDir, 'sub'));
  await symlink('/nonexistent', join(ws.tasksDir, '.20-editor.yaml'));
  await symlink('/nonexistent', join(ws.tasksDir, 'README'));
  await ws.task('10-a.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n'));
  const r = await runCli(['plan', '--config', ws.configPath]);
  t.equal(r.code, 0, r.stderr);
});
