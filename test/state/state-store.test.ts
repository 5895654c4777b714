import { chmod, mkdir, mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { machineIdIdentity, readBootId } from '../../src/host/files/instance-identity.js';
import { acquireRunLock } from '../../src/state/run-lock.js';
import { RunRecorder } from '../../src/state/run-recorder.js';
import { StateStore, readState } from '../../src/state/state-store.js';
import { memoryLogger } from '../helpers/memory-log.js';

const scratch = () => mkdtemp(join(tmpdir(), 'postjoin-state-'));

t.test('the state dir is created 0700, or tightened to it', async (t) => {
  const base = await scratch();
  const fresh = join(base, 'new/state');
  await StateStore.open(fresh, memoryLogger().log);
  t.equal((await stat(fresh)).mode & 0o777, 0o700);
  const loose = join(base, 'loose');
  await mkdir(loose, { mode: 0o755 });
  await chmod(loose, 0o755);
  await StateStore.open(loose, memoryLogger().log);
  t.equal((await stat(loose)).mode & 0o777, 0o700);
});

t.test('state is written atomically, 0600, leaving no temporary files', async (t) => {
  const dir = await scratch();
  const store = await StateStore.open(dir, memoryLogger().log);
  const rec = new RunRecorder(store, 'boot');
  rec.setInstanceId('i-1');
  rec.markDone('a', 'sha256:x');
  await rec.save();
  await rec.save(false);
  t.same(await readdir(dir), ['state.json']);
  t.equal((await stat(join(dir, 'state.json'))).mode & 0o777, 0o600);
  const loaded = await readState(dir);
  t.equal(loaded.kind, 'ok');
  t.match(loaded.kind === 'ok' && loaded.state, { version: 1, instanceId: 'i-1', bootId: 'boot', result: 'running', done: { a: { instanceId: 'i-1', hash: 'sha256:x' } } });
});

t.test('once-state carries over to the next run', async (t) => {
  const dir = await scratch();
  const first = new RunRecorder(await StateStore.open(dir, memoryLogger().log), 'b1');
  first.setInstanceId('i-1');
  first.markDone('a', 'h');
  first.finish(0);
  await first.save();
  const second = new RunRecorder(await StateStore.open(dir, memoryLogger().log), 'b2');
  t.same(Object.keys(second.done), ['a']);
  t.equal(second.state.result, 'running');
});

for (const [what, body] of [
  ['truncated', '{"version":1,"startedAt":"2026'],
  ['not JSON', '\u0000\u0001garbage'],
  ['the wrong shape', '{"version":2,"tasks":"x"}'],
  ['empty', ''],
] as const) {
  t.test(`a ${what} state file is moved aside with a warning, and nothing counts as done`, async (t) => {
    const dir = await scratch();
    await writeFile(join(dir, 'state.json'), body);
    const mem = memoryLogger();
    const store = await StateStore.open(dir, mem.log);
    t.equal(store.previous, undefined);
    const files = await readdir(dir);
    t.equal(files.length, 1);
    t.match(files[0], /^state\.json\.corrupt-/);
    t.equal(await readFile(join(dir, files[0]!), 'utf8'), body, 'the bad file is kept for inspection');
    t.match(mem.records, [{ level: 'warn', msg: /state file is unreadable .*; moved it aside and treating no task as done/ }]);
  });
}

t.test('readState reports none, ok and corrupt without changing anything', async (t) => {
  const dir = await scratch();
  t.same(await readState(dir), { kind: 'none' });
  await writeFile(join(dir, 'state.json'), 'nope');
  t.match(await readState(dir), { kind: 'corrupt', reason: /not valid JSON/ });
  t.same(await readdir(dir), ['state.json']);
});

t.test('one run at a time per state dir: the lock is the kernel\'s, run.lock is only its holder\'s record', async (t) => {
  const dir = await scratch();
  const lock = await acquireRunLock(dir, 'boot-1');
  const record = JSON.parse(await readFile(join(dir, 'run.lock'), 'utf8')) as Record<string, unknown>;
  t.match(record, { pid: process.pid, bootId: 'boot-1', startTime: /^\d+$/, startedAt: String });
  // Held, whatever run.lock says: even emptied, or naming a dead pid, it is not taken over.
  for (const text of ['', '999999999\n']) {
    await writeFile(join(dir, 'run.lock'), text);
    const err = await acquireRunLock(dir, 'boot-1').catch((e: unknown) => e);
    t.type(err, InvalidInput);
    t.match((err as Error).message, new RegExp(`another postjoin run \\(pid ${process.pid}\\) is in progress, started `));
  }
  await lock.release();
  t.equal(await readFile(join(dir, 'run.lock'), 'utf8'), '999999999\n', 'a record it did not write is left alone');
  // Released: a stale record (a pid that is now some live "postjoin" process, say) does not matter.
  const again = await acquireRunLock(dir, 'boot-1');
  t.equal(JSON.parse(await readFile(join(dir, 'run.lock'), 'utf8')).pid, process.pid);
  await again.release();
  t.same(await readdir(dir), ['lock.key'], 'its own record removed; the key the lock is named with stays');
});

t.test('instance identity without IMDS: machine-id, then a generated ID kept in the state dir', async (t) => {
  const dir = await scratch();
  await writeFile(join(dir, 'machine-id'), 'abc123\n');
  t.equal(await machineIdIdentity(dir, [join(dir, 'missing'), join(dir, 'machine-id')]).instanceId(), 'machine-id:abc123');
  await writeFile(join(dir, 'empty-id'), '\n');
  const generated = await machineIdIdentity(dir, [join(dir, 'empty-id')]).instanceId();
  t.match(generated, /^generated:[0-9a-f]{32}$/);
  t.equal(await machineIdIdentity(dir, [join(dir, 'empty-id')]).instanceId(), generated, 'kept, not regenerated');
  t.match(await readBootId(), /^[0-9a-f-]{36}$/);
  t.equal(await readBootId(join(dir, 'missing')), undefined);
});
