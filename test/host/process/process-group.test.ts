import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LineSplitter } from '../../../src/host/process/line-splitter.js';
import { runInProcessGroup, type OutputStream } from '../../../src/host/process/process-group.js';
import { alive } from '../../helpers/process-alive.js';

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

function collect() {
  const lines: [OutputStream, string, boolean][] = [];
  return { lines, onLine: (s: OutputStream, l: string, tr: boolean) => lines.push([s, l, tr]) };
}

t.test('output arrives line by line, per stream, and the exit code is kept', async (t) => {
  const c = collect();
  const r = await runInProcessGroup({
    command: '/bin/bash',
    args: ['-c', 'echo one; echo two >&2; printf "no newline"; exit 3'],
    signal: new AbortController().signal,
    onLine: c.onLine,
  });
  t.equal(r.exitCode, 3);
  t.equal(r.killed, false);
  t.same(c.lines, [
    ['stdout', 'one', false],
    ['stderr', 'two', false],
    ['stdout', 'no newline', false],
  ]);
});

t.test('env and cwd reach the process; the marker is set', async (t) => {
  const c = collect();
  await runInProcessGroup({
    command: '/bin/sh',
    args: ['-c', 'echo "$GREETING $(pwd) ${POSTJOIN_TASK_RUN:+marked}"'],
    env: { GREETING: 'hi' },
    cwd: '/usr',
    signal: new AbortController().signal,
    onLine: c.onLine,
  });
  t.same(c.lines, [['stdout', 'hi /usr marked', false]]);
});

t.test('a command that cannot start reports why', async (t) => {
  const r = await runInProcessGroup({ command: '/nonexistent/tool', args: [], signal: new AbortController().signal, onLine: () => {} });
  t.match(r.spawnError, /ENOENT/);
  t.equal(r.exitCode, null);
});

t.test('a missing or non-directory cwd is named, not reported as a missing program', async (t) => {
  const missing = await runInProcessGroup({ command: '/bin/true', args: [], cwd: '/nonexistent/dir', signal: new AbortController().signal, onLine: () => {} });
  t.match(missing.spawnError, /^ENOENT: The "cwd" option is invalid: \/nonexistent\/dir\.\n.*\nspawn \/bin\/true ENOENT$/);
  const file = await runInProcessGroup({ command: '/bin/true', args: [], cwd: '/etc/passwd', signal: new AbortController().signal, onLine: () => {} });
  t.match(file.spawnError, /^ENOTDIR: The "cwd" option is not a directory: \/etc\/passwd\./);
  t.equal(file.exitCode, null);
});

t.test('what Node refuses before starting anything is a spawn error too, not a throw', async (t) => {
  const r = await runInProcessGroup({ command: '/bin/true', args: [], env: { X: 'a\0b' }, signal: new AbortController().signal, onLine: () => {} });
  t.match(r.spawnError, /^ERR_INVALID_ARG_VALUE: /);
  t.same({ exitCode: r.exitCode, killed: r.killed, leftovers: r.leftovers }, { exitCode: null, killed: false, leftovers: [] });
});

t.test('abort kills the whole tree, including a grandchild that ignores SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pg-'));
  const pidFile = join(dir, 'grandchild.pid');
  const ctl = new AbortController();
  const started = Date.now();
  const run = runInProcessGroup({
    command: '/bin/bash',
    args: ['-c', `bash -c 'trap "" TERM; echo $$ > ${pidFile}; while :; do sleep 0.1; done' & wait`],
    signal: ctl.signal,
    onLine: () => {},
    killGraceMs: 500,
  });
  t.ok(await waitFor(async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() !== ''), 'grandchild started');
  const grandchild = Number((await readFile(pidFile, 'utf8')).trim());
  t.ok(alive(grandchild));
  ctl.abort();
  const r = await run;
  t.equal(r.killed, true);
  t.notOk(alive(grandchild), 'the SIGTERM-ignoring grandchild is gone');
  t.same(r.leftovers, [], 'nothing is left');
  t.ok(Date.now() - started < 5000, 'within the grace period plus a margin');
});

t.test('a daemon that escapes with setsid is reported, and does not hold the task open', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-pg-'));
  const pidFile = join(dir, 'daemon.pid');
  const started = Date.now();
  const r = await runInProcessGroup({
    command: '/bin/bash',
    args: ['-c', `setsid bash -c 'echo $$ > ${pidFile}; exec sleep 30' & sleep 0.2; echo parent done`],
    signal: new AbortController().signal,
    onLine: () => {},
  });
  const daemon = Number((await readFile(pidFile, 'utf8')).trim());
  t.teardown(() => {
    try {
      process.kill(daemon, 'SIGKILL');
    } catch {}
  });
  t.equal(r.exitCode, 0);
  t.ok(Date.now() - started < 5000, 'the task ended without waiting for the daemon');
  t.same(r.leftovers.map((p) => p.pid), [daemon]);
  t.match(r.leftovers[0]?.command, /sleep 30/);
});

t.test('the line splitter never holds more than its limit', async (t) => {
  const out: [string, boolean][] = [];
  const s = new LineSplitter(10, (l, tr) => out.push([l, tr]));
  s.push(Buffer.from('short\n0123456789ABCDEF'));
  s.push(Buffer.from('GHIJ more of the same long line'));
  s.push(Buffer.from(' end\nnext\r\nlast'));
  s.end();
  t.same(out, [
    ['short', false],
    ['0123456789', true],
    ['next', false],
    ['last', false],
  ]);
});

t.test('multi-byte characters split across chunks stay intact', async (t) => {
  const out: string[] = [];
  const s = new LineSplitter(100, (l) => out.push(l));
  const bytes = Buffer.from('héllo wörld\n');
  s.push(bytes.subarray(0, 2));
  s.push(bytes.subarray(2, 9));
  s.push(bytes.subarray(9));
  s.end();
  t.same(out, ['héllo wörld']);
});
