// execa starts every process postjoin starts, and is loaded only where one is started: `--version`, `plan`,
// `validate` and `status` never initialise it (their start-up does not pay for it); a `run` does. Proven on the
// bundle, where esbuild's lazy module wrappers show which modules a process initialised
// (test/helpers/module-inits.ts). And execa's own logging stays off whatever the agent's environment says, so
// the journal holds only postjoin's JSON lines.
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { BUNDLE, logLines, runCli, taskList, workspace } from '../../helpers/cli.js';
import { moduleInitWatcher } from '../../helpers/module-inits.js';

const EXECA = 'node_modules/execa/';

t.test('--version, plan, validate and status never load execa; a run with tasks does', async (t) => {
  const text = await readFile(BUNDLE, 'utf8');
  t.ok(text.includes('"node_modules/execa/lib/methods/main-async.js"'), 'the bundle holds execa, so what follows means something');
  const ws = await workspace();
  const watch = await moduleInitWatcher(ws.dir);
  const file = await ws.task('10.yaml', taskList('  - { name: a, exec: { command: /bin/true } }\n  - { name: b, script: "true" }\n'));
  for (const args of [['--version'], ['plan', '--config', ws.configPath], ['validate', file], ['status', '--state-dir', ws.stateDir]]) {
    const w = watch();
    const r = await runCli(args, { env: w.env });
    t.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
    const loaded = await w.loaded();
    t.notOk(loaded(EXECA), `${args[0]} does not load execa`);
    t.ok(loaded('src/'), `${args[0]}: the watcher saw the bundle's own modules`);
  }
  const w = watch();
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: w.env });
  t.equal(r.code, 0, r.stdout.slice(-2000));
  t.ok((await w.loaded())('node_modules/execa/lib/methods/main-async.js'), 'run loads execa, and the tasks ran through it');
});

t.test("with NODE_DEBUG=execa in the agent's environment, execa prints nothing: stdout is postjoin's JSON lines and stderr is empty", async (t) => {
  const ws = await workspace();
  await ws.task('10.yaml', taskList('  - { name: talk, exec: { command: /bin/sh, args: [-c, "echo out-line; echo err-line >&2"] } }\n  - { name: fail, onFailure: continue, exec: { command: /bin/false } }\n'));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { NODE_DEBUG: 'execa' } });
  t.equal(r.code, 0, r.stdout.slice(-2000));
  t.equal(r.stderr, '', 'nothing of execa on stderr (verbose, it prints `[time] [id] $ command` and every output line there)');
  const lines = logLines(r.stdout); // throws on a line that is not JSON
  t.ok(lines.some((l) => l.task === 'talk' && l.stream === 'stdout' && l.msg === 'out-line'));
  t.ok(lines.some((l) => l.task === 'talk' && l.stream === 'stderr' && l.msg === 'err-line'));
});
