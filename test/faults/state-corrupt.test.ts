// Fault injection, state file, end to end through the bundle: a state.json cut short (the disk filled, or it was
// copied half-way) or overwritten with garbage. Verdict: the run warns, moves it aside, runs every task (nothing
// counts as done), exits 0 and writes a good state; `status` on the bad file says so and exits 1.
// (In-process: test/state/state-store.test.ts; any bytes at all: test/properties/state.test.ts.)
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';

for (const [what, damage] of [
  ['truncated half-way', (s: string) => s.slice(0, Math.floor(s.length / 2))],
  ['overwritten with binary garbage', () => '\u0000\u0001\u0002garbage\uffff'],
  ['valid JSON of the wrong shape', () => '{"version":1,"tasks":{},"done":[]}'],
] as const) {
  t.test(`a state file ${what}: moved aside with a warning, every task runs again, exit 0, a good state written`, async (t) => {
    const ws = await workspace();
    await ws.task('10.yaml', taskList(`  - { name: a, script: "echo x >> ${ws.dir}/a" }\n  - { name: b, script: "echo x >> ${ws.dir}/b" }\n`));
    const args = ['run', '--config', ws.configPath, '--state-dir', ws.stateDir];
    t.equal((await runCli(args)).code, 0);
    const good = await readFile(join(ws.stateDir, 'state.json'), 'utf8');
    await writeFile(join(ws.stateDir, 'state.json'), damage(good));

    const status = await runCli(['status', '--state-dir', ws.stateDir]);
    t.equal(status.code, 1, 'status on a bad state file is exit 1');
    t.match(status.stderr, /the state file is unreadable/);

    const r = await runCli(args);
    t.equal(r.code, 0, r.stdout.slice(-2000));
    t.ok(logLines(r.stdout).some((l) => l.level === 'warn' && /^state file is unreadable \(.*\); moved it aside and treating no task as done$/.test(String(l.msg))));
    t.equal(await readFile(join(ws.dir, 'a'), 'utf8'), 'x\nx\n', 'task a ran again: nothing counted as done');
    t.equal(await readFile(join(ws.dir, 'b'), 'utf8'), 'x\nx\n');
    const files = await readdir(ws.stateDir);
    t.ok(files.some((f) => f.startsWith('state.json.corrupt-')), 'the bad file is kept for inspection');
    t.match(JSON.parse((await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json'])).stdout), { result: 'succeeded' });
  });
}
