// The `file` task kind: its schema (an absolute, normalized path; a quoted octal mode), policy.paths at plan time
// and again at run time on the path the write really lands on, the redaction `plan` prints, and the write itself
// (atomic, with mode and owner, through the Host). It has no tag form: a tagger must not write the node's files.
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { defaultConfig } from '../../src/config/agent-config.js';
import { fileKind } from '../../src/kinds/file.js';
import { tagValueFromSpec } from '../../src/sources/tag-grammar.js';
import { HEADER, config, planFrom, planProblems as problems } from '../helpers/plan.js';
import { runRecorded } from '../helpers/run-plan.js';

const F = 'file:/etc/postjoin/tasks.d/10-x.yaml';

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'postjoin-file-'));
}

t.test('a file task with a relative path, and an unquoted mode', async (t) => {
  t.same(problems(`${HEADER}tasks:\n  - name: a\n    file: { path: etc/x.conf, content: x }\n  - name: b\n    file:\n      path: /etc/y\n      content: y\n      mode: 0644\n`), [
    `${F}: tasks[0].file.path, line 5: file.path must be an absolute path (start with "/")`,
    `${F}: tasks[1].file.mode, line 10: expected a quoted octal string such as "0644"; unquoted, YAML 1.2 reads 0644 as the decimal number 644`,
  ]);
});

t.test('the file kind writes atomically with mode, creating parents', async (t) => {
  const dir = await scratch();
  const target = join(dir, 'a/b/c.conf');
  await writeFile(join(dir, 'placeholder'), '');
  const r = await runRecorded(planFrom(`${HEADER}tasks:
  - { name: w, file: { path: ${target}, content: "hello\\n", mode: "0640" } }
  - { name: b64, file: { path: ${dir}/bin, content: "AAEC/w==", encoding: base64, mode: "600", owner: root, group: "0" } }
  - { name: into-dir, onFailure: continue, file: { path: ${dir}/a, content: x } }
  - { name: no-user, onFailure: continue, file: { path: ${dir}/u, content: x, owner: no-such-user-here } }
`));
  t.equal(r.outcome.exitCode, 0);
  t.equal(await readFile(target, 'utf8'), 'hello\n');
  const { statSync, readdirSync } = await import('node:fs');
  t.equal(statSync(target).mode & 0o777, 0o640);
  t.same([...(await readFile(join(dir, 'bin')))], [0, 1, 2, 255]);
  t.equal(statSync(join(dir, 'bin')).mode & 0o777, 0o600);
  t.same(readdirSync(join(dir, 'a/b')), ['c.conf'], 'no temporary file is left behind');
  t.match(r.state.tasks[2], { status: 'continued', error: /is a directory/ });
  t.match(r.state.tasks[3], { status: 'continued', error: /no user "no-such-user-here" \(getent passwd found none\)/ });
});

t.test('policy.paths: globs on the path as written, at plan time; empty allows any path', async (t) => {
  const cfg = config({ policy: { paths: ['/etc/amazon/*', '/opt/agent/**'] } });
  t.same(problems(`${HEADER}tasks:\n  - { name: a, file: { path: /etc/amazon/x.json, content: x } }\n  - { name: b, file: { path: /etc/shadow, content: x } }\n`, cfg), [
    `${F}#tasks[1]: task "b": path /etc/shadow is not allowed (policy.paths: [/etc/amazon/*, /opt/agent/**])`,
  ]);
  t.same(fileKind.checkPolicy?.({ path: '/anything', content: '', encoding: 'utf8', mode: '0644' }, { registries: [], units: [], paths: [] }, 'file'), []);
});

t.test('at run time the path is checked again with its parents resolved: a symlink cannot carry the write elsewhere', async (t) => {
  const dir = await scratch();
  await mkdir(join(dir, 'allowed'));
  await mkdir(join(dir, 'elsewhere'));
  await symlink(join(dir, 'elsewhere'), join(dir, 'allowed/link'));
  const cfg = config({ policy: { paths: [`${dir}/allowed/*`] } });
  // The plan allowed the path as written (policy.paths is applied again only where the write really lands).
  const plan = planFrom(`${HEADER}tasks:\n  - { name: through, file: { path: ${dir}/allowed/link/f, content: x } }\n`, config());
  const r = await runRecorded(plan, { config: cfg });
  t.equal(r.outcome.exitCode, 1);
  t.match(r.state.tasks[0], { status: 'failed', error: `${dir}/allowed/link/f resolves to ${dir}/elsewhere/f through a symlink, which policy.paths does not allow` });
  await t.rejects(readFile(join(dir, 'elsewhere/f')), 'nothing was written through the link');
});

t.test('plan prints the content as its hash and size, never the content', async (t) => {
  t.same(fileKind.redact?.({ path: '/etc/x', content: 'c2VjcmV0', encoding: 'base64', mode: '0600' }), {
    path: '/etc/x',
    encoding: 'base64',
    mode: '0600',
    content: { sha256: '2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b', bytes: 6 },
  });
});

t.test('no tag form, and not allowed from tags by default', async (t) => {
  t.equal(fileKind.tagForm, undefined);
  t.equal(fileKind.tagsByDefault, false);
  t.match(tagValueFromSpec('file', { path: '/x', content: 'y' }), { reason: /^kind "file" has no tag form; tags can hold pull, unit, wait, exec, script$/ });
  t.notOk(defaultConfig().policy.tags.allow.includes('file'));
});
