// `npm start` is the README's first command: scripts/demo.mjs runs the built bundle on examples/demo twice and
// shows `postjoin status`. A newcomer's first impression, so it is checked like any other output.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { ROOT } from './helpers/cli.js';

t.test('npm start: the plan, a first run that does every task, a second that skips the once tasks, and the status', async (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/demo.mjs')], { encoding: 'utf8', env: { ...process.env, JOURNAL_STREAM: '' }, timeout: 60_000 });
  t.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  const [plan, first, second, status] = out.split(/^\$ postjoin /m).slice(1);
  t.match(plan, /^plan --config /, 'the plan comes first');
  t.match(plan, /write-agent-config\s+file\s+yes/);
  t.match(plan, /file:.*examples\/demo\/tasks\.d\/10-node-basics\.yaml#tasks\[0\]/, 'with each task\'s origin');
  t.match(first, /run succeeded: 7 succeeded in /, 'first run: every task');
  t.match(first, /flaky-download\] task flaky-download \(5\/5\): attempt 1\/4 failed: .*retrying in/, 'a retry is shown');
  t.match(second, /run succeeded: 1 succeeded, 6 skipped-done in /, 'second run: once tasks are skipped');
  t.match(second, /already done on this instance with this content; skipped/);
  t.match(status, /result:\s+succeeded \(exit 0\)/);
  t.match(status, /flaky-download\s+script\s+succeeded\s+2\s/, 'status shows the attempts');
  t.equal((out.match(/exit code 0/g) ?? []).length, 2);
});
