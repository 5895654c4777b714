// `npm start`: runs the agent on the example task list, twice, in a temporary state dir, with readiness
// switched off, and shows what a node's journal and `postjoin status` would say.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist/postjoin.cjs');
const work = mkdtempSync(join(tmpdir(), 'postjoin-demo-'));
const stateDir = join(work, 'state');
const config = join(work, 'config.yaml');
rmSync('/tmp/postjoin-demo', { recursive: true, force: true });
writeFileSync(
  config,
  readFileSync(join(root, 'examples/demo/config.yaml'), 'utf8').replace('./tasks.d', join(root, 'examples/demo/tasks.d')),
);

const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const run = (args) => spawnSync(process.execPath, [bundle, ...args], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' } });

/** The agent writes pino JSON (the journal's form); here each line is shown compactly. */
function showLogs(stdout) {
  for (const line of stdout.split('\n').filter(Boolean)) {
    const r = JSON.parse(line);
    const who = r.task ? `[${r.task}${r.stream ? ` ${r.stream}` : ''}] ` : '';
    console.log(`  ${r.time.slice(11, 23)} ${r.level.padEnd(5)} ${who}${r.msg}`);
  }
}

console.log(bold(`$ postjoin plan --config ${config}`));
process.stdout.write(run(['plan', '--config', config]).stdout);

for (const pass of ['first boot', 'second run (once tasks are skipped)']) {
  console.log(bold(`\n$ postjoin run   # ${pass}`));
  const r = run(['run', '--config', config, '--state-dir', stateDir]);
  showLogs(r.stdout);
  console.log(`  exit code ${r.status}`);
  if (r.status !== 0) process.exitCode = 1;
}

console.log(bold(`\n$ postjoin status --state-dir ${stateDir}`));
process.stdout.write(run(['status', '--state-dir', stateDir]).stdout);
console.log(`\nState: ${stateDir}/state.json   Files written: /tmp/postjoin-demo/`);
