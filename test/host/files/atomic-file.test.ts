// The one atomic write (file tasks, state.json): any name the file system allows must work, so the temporary
// file beside the target must not grow with the target's name (NAME_MAX is 255 bytes; the temporary used to add
// 23 to it, and a file task for a 244-byte name failed with ENAMETOOLONG).
import { mkdir, mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { writeFileAtomic } from '../../../src/host/files/atomic-file.js';
import { runCli, taskList, workspace } from '../../helpers/cli.js';

const longName = (bytes: number) => `${'n'.repeat(bytes - 5)}.conf`;

t.test('writeFileAtomic: a 255-byte name (the longest a file system allows) is written, replaced, and no temporary is left', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-atomic-'));
  const name = longName(255);
  t.equal(Buffer.byteLength(name), 255);
  const path = join(dir, name);
  await writeFileAtomic(path, 'first\n');
  await writeFileAtomic(path, 'second\n');
  t.equal(await readFile(path, 'utf8'), 'second\n');
  t.same(await readdir(dir), [name], 'only the target is there');
  // A multibyte name: NAME_MAX counts bytes, not characters.
  const wide = `${'é'.repeat(125)}.conf`;
  t.equal(Buffer.byteLength(wide), 255);
  await writeFileAtomic(join(dir, wide), 'x');
  t.equal(await readFile(join(dir, wide), 'utf8'), 'x');
});

t.test('writeFileAtomic: a failed write removes its temporary; concurrent writes in one directory each get their own', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-atomic-'));
  // rename() onto a non-empty directory fails after the temporary was written: the temporary must go.
  const target = join(dir, 'a-dir');
  await mkdir(target);
  await writeFile(join(target, 'inside'), '');
  await t.rejects(writeFileAtomic(target, 'data'), { code: /^(EISDIR|ENOTEMPTY|EEXIST)$/ });
  t.same(await readdir(dir), ['a-dir'], 'no temporary left after the failure');
  // 50 writes at once, each to a 255-byte name: the temporaries are opened exclusively (wx) and never collide.
  const names = Array.from({ length: 50 }, (_, i) => `${'n'.repeat(247)}${String(i).padStart(3, '0')}.conf`);
  await Promise.all(names.map((n, i) => writeFileAtomic(join(dir, n), String(i))));
  t.same((await readdir(dir)).sort(), ['a-dir', ...names].sort(), 'every target, and nothing else');
  t.equal(await readFile(join(dir, names[49]!), 'utf8'), '49');
});

t.test('a file task for a 255-byte file name succeeds through the bundle, and the state file is still written', async (t) => {
  const ws = await workspace();
  const target = join(ws.dir, 'out', longName(255));
  await ws.task('10.yaml', taskList(`  - { name: long-name, file: { path: ${JSON.stringify(target)}, content: "hello\\n", mode: "0640" } }\n`));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0, r.stdout.slice(-1500) + r.stderr);
  t.equal(await readFile(target, 'utf8'), 'hello\n');
  t.equal((await stat(target)).mode & 0o777, 0o640);
  t.same(await readdir(join(ws.dir, 'out')), [longName(255)], 'no temporary beside it');
  const s = JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout) as { result: string };
  t.equal(s.result, 'succeeded');
  t.same((await readdir(ws.stateDir)).filter((f) => f !== 'lock.key'), ['state.json'], 'no temporary state file beside it');
});
