// Task files, validate operands, --tasks files and the agent config have a size cap (issue 11, item 11):
// validating a 20 MB file used to peak at 911 MB. The cap, 1 MiB, is checked before parsing: from the file's
// size before it is read, and again while reading, for a file that grows or a pipe that never ends.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, open, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { requireReal, which } from '../harness/require-real.js';
import { BUNDLE, runCli, taskList, workspace } from '../helpers/cli.js';

const MIB = 1024 * 1024;

/** A valid task file padded with a comment to exactly `size` bytes. */
function padded(size: number): Buffer {
  const body = taskList('  - { name: a, exec: { command: /bin/true } }\n');
  const pad = size - Buffer.byteLength(body) - 3;
  return Buffer.from(`${body}# ${'x'.repeat(pad)}\n`);
}

/** A sparse file of `size` bytes: no disk, no memory in the test. */
async function bigFile(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  await fh.truncate(size);
  await fh.close();
}

t.test('a task file of exactly 1 MiB is read; one byte more is exit 2 naming the file and the cap', async (t) => {
  const ws = await workspace();
  await writeFile(join(ws.tasksDir, '10-a.yaml'), padded(MIB));
  t.equal((await runCli(['plan', '--config', ws.configPath])).code, 0, 'exactly 1 MiB');
  const path = join(ws.tasksDir, '10-a.yaml');
  await writeFile(path, padded(MIB + 1));
  for (const verb of ['plan', 'run']) {
    const r = await runCli([verb, '--config', ws.configPath, '--state-dir', ws.stateDir]);
    t.equal(r.code, 2, verb);
    t.match(r.stdout + r.stderr, `file:${path}: is ${MIB + 1} bytes; a task file may be at most 1 MiB (${MIB} bytes)`, verb);
  }
});

t.test('validate of a 20 MB file is refused before it is parsed (bounded memory), naming the cap', async (t) => {
  if (!(await requireReal(t, 'GNU time', async () => (await which('/usr/bin/time')) !== undefined, 'apt-get install -y --no-install-recommends time'))) return;
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-cap-'));
  const path = join(dir, 'big.yaml');
  await writeFile(path, Buffer.concat([Buffer.from(taskList('')), Buffer.alloc(20 * MIB, '# comment line\n')]));
  let stdout = '';
  let stderr = '';
  try {
    stdout = execFileSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', process.execPath, BUNDLE, 'validate', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    t.equal(e.status, 2);
    stdout = e.stdout;
    stderr = e.stderr;
  }
  t.match(stdout, `file:${path}: is ${20 * MIB + Buffer.byteLength(taskList(''))} bytes; a task file or user data may be at most 1 MiB (${MIB} bytes)`);
  const rss = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1]);
  // Node alone is about 50 MB; parsing the file used to take 911 MB. The file is never read whole.
  t.ok(rss > 0 && rss < 200 * 1024, `peak RSS ${Math.round(rss / 1024)} MB`);
});

t.test('render-userdata --tasks, tags --tasks and the config: the same cap', async (t) => {
  const ws = await workspace();
  const big = join(ws.dir, 'big.yaml');
  await bigFile(big, 2 * MIB);
  const nodeconfig = join(ws.dir, 'nodeconfig.yaml');
  await writeFile(nodeconfig, 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec: {}\n');
  for (const args of <string[][]>[['render-userdata', '--nodeconfig', nodeconfig, '--tasks', big], ['tags', '--tasks', big]]) {
    const r = await runCli(args);
    t.equal(r.code, 2, args[0]!);
    t.match(r.stderr, `file:${big}: is ${2 * MIB} bytes; a task file may be at most 1 MiB`, args[0]!);
  }
  const nc = await runCli(['render-userdata', '--nodeconfig', big, '--tasks', join(ws.dir, 'config.yaml')]);
  t.equal(nc.code, 2, '--nodeconfig');
  t.match(nc.stderr, `--nodeconfig ${big}: is ${2 * MIB} bytes; a NodeConfig may be at most 1 MiB`);
  const config = join(ws.dir, 'big-config.yaml');
  await bigFile(config, 2 * MIB);
  const r = await runCli(['plan', '--config', config]);
  t.equal(r.code, 2);
  t.match(r.stderr, `config ${config}: is ${2 * MIB} bytes; the agent config may be at most 1 MiB`);
});

t.test('a pipe that never ends (validate <(yes)) is cut at the cap while reading, not read to the end', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-cap-'));
  const fifo = join(dir, 'endless.yaml');
  execFileSync('mkfifo', [fifo]);
  // `yes` writes forever; it ends with SIGPIPE when the reader closes the pipe.
  const writer = spawn('sh', ['-c', `exec yes '# padding' > ${fifo}`], { stdio: 'ignore' });
  t.teardown(() => {
    writer.kill('SIGKILL');
  });
  const r = await runCli(['validate', fifo], { timeoutMs: 30_000 });
  t.equal(r.code, 2, r.stderr);
  t.match(r.stdout, `file:${fifo}: is larger than 1 MiB (${MIB} bytes), the limit for a task file or user data`);
});
