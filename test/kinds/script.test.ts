// The `script` task kind: its schema (a body, never a NUL), its run (bash -euo pipefail from a private file,
// through the Host's process runner), and its tag form (`script BASE64`), which the default policy refuses.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { defaultConfig } from '../../src/config/agent-config.js';
import { scriptKind } from '../../src/kinds/script.js';
import { tagValueFromSpec, taskFromTagValue } from '../../src/sources/tag-grammar.js';
import { HEADER, planFrom, planProblems as problems } from '../helpers/plan.js';
import { runRecorded } from '../helpers/run-plan.js';

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';

t.test('a NUL in a script body is refused at plan time, naming where in the body, never echoing it', async (t) => {
  const body = 'echo secret-body-7c1\\n\\0tail';
  const got = problems(`${HEADER}tasks:\n  - name: a\n    script: "${body}"\n  - { name: b, script: "\\0" }\n`);
  t.same(got, [
    `${F}: tasks[0].script, line 5: the script body holds a NUL character (line 2 of the body, character 1); bash refuses such a script`,
    `${F}: tasks[1].script, line 6: the script body holds a NUL character (line 1 of the body, character 1); bash refuses such a script`,
  ]);
  t.notOk(got.join('\n').includes('secret-body'), 'the body is not echoed');
});

t.test('an empty body, or one that is not a string, is refused at plan time', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - { name: a, script: "" }\n  - { name: b, script: [echo] }\n`), [
    `${F}: tasks[0].script, line 4: the script body is empty`,
    `${F}: tasks[1].script, line 5: expected the script body as a string`,
  ]);
});

t.test('the body runs under bash -euo pipefail: a failing pipeline stage, or an unset variable, fails the task', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-script-'));
  const r = await runRecorded(
    planFrom(`${HEADER}tasks:
  - { name: pipe, onFailure: continue, script: "false | true\\ntouch ${dir}/after-pipe" }
  - { name: unset, onFailure: continue, script: "echo \\"$NOT_SET_ANYWHERE\\"\\ntouch ${dir}/after-unset" }
  - { name: fine, script: "set -o | grep -E '^(errexit|nounset|pipefail) ' > ${dir}/options" }
`),
  );
  t.equal(r.outcome.exitCode, 0, r.errors.join('\n'));
  t.match(r.state.tasks[0], { status: 'continued', exitCode: 1, error: 'script exited with code 1' });
  t.match(r.state.tasks[1], { status: 'continued', exitCode: 1, error: /^script exited with code 1: .*NOT_SET_ANYWHERE: unbound variable/ });
  await t.rejects(readFile(join(dir, 'after-pipe')), 'nothing after the failing pipeline ran');
  await t.rejects(readFile(join(dir, 'after-unset')));
  t.match(await readFile(join(dir, 'options'), 'utf8'), /^errexit\s+on\nnounset\s+on\npipefail\s+on\n$/);
});

t.test('tag form: `script BASE64`, both ways, the body byte for byte (a byte order mark kept); refused from tags by default', async (t) => {
  const body = '\ufeffecho "a b" | tr a-z A-Z\n';
  const b64 = Buffer.from(body, 'utf8').toString('base64');
  t.same(scriptKind.tagForm?.parse([b64]), { spec: body });
  t.same(taskFromTagValue('s', `script ${b64}`), { name: 's', script: body });
  t.same(tagValueFromSpec('script', body), { value: `script ${b64}`, dropped: [] });
  t.same(scriptKind.tagForm?.parse([b64, 'more']), { reason: 'script takes one word, the base64 of the script body: "script BASE64"' });
  t.same(scriptKind.tagForm?.parse(['not*base64']), { reason: 'script: the body is not valid base64' });
  t.same(scriptKind.tagForm?.parse([Buffer.from([0xff, 0xfe, 0x41]).toString('base64')]), { reason: 'script: the body is not valid base64' }, 'not UTF-8');
  t.same(tagValueFromSpec('script', { body: 'x' }), { reason: 'script must be a string' });
  t.equal(scriptKind.tagsByDefault, false);
  t.notOk(defaultConfig().policy.tags.allow.includes('script'));
});
