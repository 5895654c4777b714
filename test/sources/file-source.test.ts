import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { InvalidInput, SourceUnreadable, formatProblem } from '../../src/base/errors.js';
import { silentLogger } from '../../src/report/logger.js';
import { byteOrder, fileSource } from '../../src/sources/file-source.js';
import { readSources } from '../../src/sources/read-sources.js';
import { HEADER, config, sourceContext } from '../helpers/plan.js';

async function tasksDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-tasksd-'));
  for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
  return dir;
}

const read = (dir: string) => fileSource.read(sourceContext(config({ tasksDir: dir }), silentLogger()));

t.test('files are read in byte-wise name order, several documents each, with origins', async (t) => {
  const dir = await tasksDir({
    'b.yml': `${HEADER}tasks:\n  - { name: b1, script: echo }\n`,
    '10-x.yaml': `${HEADER}tasks:\n  - { name: x1, script: echo }\n  - { name: x2, script: echo }\n---\n${HEADER}tasks:\n  - { name: x3, script: echo }\n`,
    'A.json': JSON.stringify({ apiVersion: 'postjoin/v1alpha1', kind: 'TaskList', tasks: [{ name: 'j1', exec: { command: '/bin/true' } }] }),
    '9-z.yaml': `${HEADER}tasks:\n  - { name: z1, script: echo }\n`,
    'README.md': 'not a task file',
    '.10-x.yaml.swp': 'editor junk',
  });
  await mkdir(join(dir, 'sub')); // not a task file by name; a directory named *.yaml is exit 4 (tasks-dir-entries.test.ts beside this file)
  const tasks = await read(dir);
  t.same(
    tasks.map((s) => s.origin),
    [
      `file:${dir}/10-x.yaml#tasks[0]`,
      `file:${dir}/10-x.yaml#tasks[1]`,
      `file:${dir}/10-x.yaml#doc[1].tasks[0]`,
      `file:${dir}/9-z.yaml#tasks[0]`,
      `file:${dir}/A.json#tasks[0]`,
      `file:${dir}/b.yml#tasks[0]`,
    ],
  );
  t.ok(tasks.every((s) => s.source === 'file'));
});

t.test('byte-wise order is not locale order', async (t) => {
  t.same(['b', 'B', 'a', '_', '10', '9', 'é'].sort(byteOrder), ['10', '9', 'B', '_', 'a', 'b', 'é']);
});

t.test('an absent directory is no tasks, not an error', async (t) => {
  t.same(await read('/nonexistent/postjoin/tasks.d'), []);
});

t.test('problems in several files are all reported, each naming its file', async (t) => {
  const dir = await tasksDir({
    '10-a.yaml': 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n  - name: [\n',
    '20-b.json': '{ "apiVersion": "postjoin/v1alpha1", ',
    '30-c.yaml': 'kind: TaskList\ntasks: []\n',
  });
  const err = await read(dir).catch((e: unknown) => e);
  t.type(err, InvalidInput);
  const msgs = (err as InvalidInput).problems.map(formatProblem);
  t.match(msgs, [new RegExp(`^file:${dir}/10-a.yaml: line \\d+: malformed YAML`), new RegExp(`^file:${dir}/20-b.json: line 1: not valid JSON`), new RegExp(`^file:${dir}/30-c.yaml: apiVersion: required`)]);
});

t.test('a tasks directory that cannot be listed is a source error (exit 4)', async (t) => {
  const dir = await tasksDir({ 'not-a-dir': 'x' });
  const err = await read(join(dir, 'not-a-dir')).catch((e: unknown) => e);
  t.type(err, SourceUnreadable);
  t.equal((err as SourceUnreadable).exitCode, 4);
  t.match((err as Error).message, /cannot list the tasks directory: ENOTDIR/);
});

t.test('readSources concatenates configured sources in order and collects problems', async (t) => {
  const dir = await tasksDir({ '1.yaml': `${HEADER}tasks:\n  - { name: a, script: echo }\n` });
  const cfg = config({ tasksDir: dir });
  const tasks = await readSources(cfg.sources, sourceContext(cfg, silentLogger()));
  t.equal(tasks.length, 1);
  const none = await readSources(config({ tasksDir: dir, sources: [] }).sources, sourceContext(cfg, silentLogger()));
  t.same(none, []);
});
