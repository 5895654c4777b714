// Task files and the agent config must be UTF-8 (issue 11, item 4). A byte that is not UTF-8 used to be read as
// U+FFFD, so a Latin-1 "é" in a file task's content was written to the node changed. Now every reader (tasks.d
// for run/plan, validate, --tasks of render-userdata and tags, the config) refuses it the same way: exit 2,
// naming the file, the byte offset and the line; a UTF-16 file is named as UTF-16.
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { InvalidInput, formatProblem } from '../../src/base/errors.js';
import { decodeUtf8Text } from '../../src/base/text-encoding.js';
import { runCli, taskList, workspace } from '../helpers/cli.js';

/** A file task whose content has a Latin-1 "é" (0xE9) on line 5, at byte offset `OFFSET`. */
function latin1Task(target: string): { bytes: Buffer; offset: number } {
  const head = taskList(`  - name: motd\n    file: { path: ${target}, content: "caf`);
  const bytes = Buffer.concat([Buffer.from(head), Buffer.from([0xe9]), Buffer.from('" }\n')]);
  return { bytes, offset: Buffer.byteLength(head) };
}

const utf16 = (s: string, le: boolean) => {
  const b = Buffer.from(`\ufeff${s}`, 'utf16le');
  if (!le) b.swap16();
  return b;
};

t.test('decodeUtf8Text: the offset and line of the first byte that is not UTF-8; UTF-16 and UTF-32 by their byte order mark', async (t) => {
  const problem = (bytes: Buffer) => {
    try {
      decodeUtf8Text(bytes, 'file:/x.yaml');
    } catch (err) {
      if (err instanceof InvalidInput) return err.problems.map(formatProblem).join('\n');
      throw err;
    }
    return 'accepted';
  };
  t.equal(problem(Buffer.from('a: b\nc: d\n')), 'accepted');
  t.equal(decodeUtf8Text(Buffer.from('\ufeffa: é\n'), 'x'), '\ufeffa: é\n', 'valid UTF-8 (a byte order mark too) is kept as it is');
  t.equal(problem(Buffer.from([0x61, 0x0a, 0x62, 0xe9, 0x0a])), 'file:/x.yaml: line 2: is not UTF-8: byte 0xE9 at offset 3 is not valid UTF-8 (Latin-1 or Windows-1252 text?); save the file as UTF-8');
  t.match(problem(Buffer.from([0x61, 0xc3])), /line 1: is not UTF-8: byte 0xC3 at offset 1 starts a character that the file ends inside/);
  t.match(problem(Buffer.from([0xed, 0xa0, 0x80])), /byte 0xED at offset 0 is not valid UTF-8/, 'an encoded surrogate');
  t.match(problem(Buffer.from([0xc0, 0xaf])), /byte 0xC0 at offset 0/, 'an overlong form');
  t.match(problem(Buffer.from([0xf4, 0x90, 0x80, 0x80])), /byte 0xF4 at offset 0/, 'past U+10FFFF');
  t.equal(problem(utf16('a: b\n', true)), 'file:/x.yaml: is UTF-16 (little-endian: it starts with the byte order mark FF FE), not UTF-8; save the file as UTF-8');
  t.match(problem(utf16('a: b\n', false)), /is UTF-16 \(big-endian: it starts with the byte order mark FE FF\)/);
  t.match(problem(Buffer.from([0xff, 0xfe, 0, 0, 0x61, 0, 0, 0])), /is UTF-32 \(little-endian/);
  t.match(problem(Buffer.from('a\0:\0 \0b\0', 'latin1')), /line 1: holds a NUL byte at offset 1: is it UTF-16 without a byte order mark, or not text at all\?/);
});

t.test('run: a Latin-1 "é" in a file task is exit 2 naming the file, offset and line; nothing is written', async (t) => {
  const ws = await workspace();
  const target = join(ws.dir, 'motd');
  const { bytes, offset } = latin1Task(target);
  const path = join(ws.tasksDir, '10-motd.yaml');
  await writeFile(path, bytes);
  for (const verb of ['plan', 'run']) {
    const r = await runCli([verb, '--config', ws.configPath, '--state-dir', ws.stateDir]);
    t.equal(r.code, 2, `${verb}: ${r.stderr}`);
    t.match(r.stdout + r.stderr, `file:${path}: line 5: is not UTF-8: byte 0xE9 at offset ${offset}`, verb);
  }
  t.notOk(existsSync(target), 'the file task did not run');
});

t.test('validate, render-userdata --tasks and tags --tasks refuse it the same way', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-enc-'));
  const { bytes, offset } = latin1Task('/etc/motd');
  const path = join(dir, 'tasks.yaml');
  await writeFile(path, bytes);
  const nodeconfig = join(dir, 'nodeconfig.yaml');
  await writeFile(nodeconfig, 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec: {}\n');
  const want = `file:${path}: line 5: is not UTF-8: byte 0xE9 at offset ${offset}`;
  const validate = await runCli(['validate', path]);
  t.equal(validate.code, 2);
  t.match(validate.stdout, want, 'validate');
  for (const args of <string[][]>[['render-userdata', '--nodeconfig', nodeconfig, '--tasks', path], ['tags', '--tasks', path]]) {
    const r = await runCli(args);
    t.equal(r.code, 2, args[0]!);
    t.match(r.stderr, want, args[0]!);
    t.equal(r.stdout, '', `${args[0]!} writes nothing`);
  }
});

t.test('a UTF-16 task file (as Windows editors save one) is named as UTF-16, in tasks.d and for validate', async (t) => {
  const ws = await workspace();
  const le = join(ws.tasksDir, '10-utf16.yaml');
  await writeFile(le, utf16(taskList('  - { name: a, script: "true" }\n'), true));
  const plan = await runCli(['plan', '--config', ws.configPath]);
  t.equal(plan.code, 2);
  t.match(plan.stderr, `file:${le}: is UTF-16 (little-endian: it starts with the byte order mark FF FE), not UTF-8`);
  const be = join(ws.dir, 'be.json');
  await writeFile(be, utf16('{"apiVersion":"postjoin/v1alpha1","kind":"TaskList","tasks":[]}', false));
  const validate = await runCli(['validate', be]);
  t.equal(validate.code, 2);
  t.match(validate.stdout, `file:${be}: is UTF-16 (big-endian: it starts with the byte order mark FE FF), not UTF-8`);
});

t.test('the agent config: the same rule, naming the config', async (t) => {
  const ws = await workspace();
  await writeFile(ws.configPath, Buffer.concat([Buffer.from(`sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\n# caf`), Buffer.from([0xe9, 0x0a])]));
  const r = await runCli(['plan', '--config', ws.configPath]);
  t.equal(r.code, 2);
  t.match(r.stderr, new RegExp(`config ${ws.configPath}: line 4: is not UTF-8: byte 0xE9 at offset \\d+`));
});
