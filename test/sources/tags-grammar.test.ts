import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import t from 'tap';
import { joinWords, quoteWord, splitWords } from '../../src/sources/shell-words.js';
import { tagValueFromSpec, taskFromTagValue, tasksFromTags } from '../../src/sources/tag-grammar.js';
import { fixedSeed } from '../helpers/properties/harness.js';

const words = (s: string) => {
  const r = splitWords(s);
  return r.ok ? r.words : `error: ${r.message}`;
};

t.test('words split as a POSIX shell splits them, with no expansion at all', async (t) => {
  t.same(words('pull  a:1\tb@sha256:00 '), ['pull', 'a:1', 'b@sha256:00']);
  t.same(words(`exec /bin/sh -c "touch /tmp/pwned"`), ['exec', '/bin/sh', '-c', 'touch /tmp/pwned']);
  t.same(words(`a'b c'"d e"f`), ['ab cd ef'], 'adjacent quoted pieces make one word');
  t.same(words(`'' ""`), ['', ''], 'empty quotes are empty words');
  t.same(words(`"a\\"b" "\\$x" "\\n" 'x\\y'`), ['a"b', '$x', '\\n', 'x\\y'], 'backslash in double quotes escapes only \\ " $ `');
  t.same(words('a\\ b \\"c'), ['a b', '"c']);
  t.same(words('$HOME; rm -rf * | true && `id` ?'), ['$HOME;', 'rm', '-rf', '*', '|', 'true', '&&', '`id`', '?'], 'shell syntax is just characters');
  t.same(words(''), []);
  t.match(words(`exec "unterminated`), /unterminated double quote at character 6/);
  t.match(words(`exec 'unterminated`), /unterminated single quote/);
  t.same(words('exec a\\'), ['exec', 'a\\'], 'a trailing backslash stays, as in the shell');
});

t.test('property: the same words as /bin/sh, on inputs without expansion characters', async (t) => {
  // The shell is the reference; its expansions ($, *, ~, …) and operators are left out of the alphabet.
  const value = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\t', "'", '"', '\\', '-', '/'), maxLength: 14 });
  fc.assert(
    fc.property(value, (v) => {
      const sh = spawnSync('/bin/sh', ['-c', `printf '%s\\0' X ${v}`], { encoding: 'utf8' });
      const ours = splitWords(v);
      if (sh.status !== 0) return !ours.ok;
      return ours.ok && JSON.stringify(ours.words) === JSON.stringify(sh.stdout.split('\0').slice(1, -1));
    }),
    // A fixed seed, as for every property in npm test (test/helpers/properties/harness.ts): the same cases on every run.
    { numRuns: 300, seed: fixedSeed({ parser: 'words', name: t.name }) },
  );
  t.pass('300 random values split like /bin/sh');
});

t.test('property: joinWords writes words that split back unchanged', async (t) => {
  fc.assert(fc.property(fc.array(fc.string()), (ws) => JSON.stringify(words(joinWords(ws))) === JSON.stringify(ws)), { seed: fixedSeed({ parser: 'words', name: t.name }) });
  t.equal(quoteWord('plain/path:1'), 'plain/path:1');
  t.equal(quoteWord("it's"), `'it'\\''s'`);
  t.equal(quoteWord(''), "''");
});

t.test('each tag form becomes a raw task in the kind\'s own shape', async (t) => {
  t.same(taskFromTagValue('10-prepull', 'pull public.ecr.aws/x/pause:3.9 111.dkr.ecr.us-west-2.amazonaws.com/app:1'), {
    name: '10-prepull',
    pull: { images: ['public.ecr.aws/x/pause:3.9', '111.dkr.ecr.us-west-2.amazonaws.com/app:1'] },
  });
  t.same(taskFromTagValue('u', 'unit restart amazon-cloudwatch-agent.service'), { name: 'u', unit: { action: 'restart', name: 'amazon-cloudwatch-agent.service' } });
  t.same(taskFromTagValue('w', 'wait url http://127.0.0.1:4317/'), { name: 'w', wait: { url: 'http://127.0.0.1:4317/' } });
  t.same(taskFromTagValue('w', 'wait file /run/ready'), { name: 'w', wait: { file: '/run/ready' } });
  t.same(taskFromTagValue('w', 'wait unit kubelet.service'), { name: 'w', wait: { unit: 'kubelet.service' } });
  t.same(taskFromTagValue('x', `exec /bin/sh -c "touch /tmp/pwned"`), { name: 'x', exec: { command: '/bin/sh', args: ['-c', 'touch /tmp/pwned'] } });
  t.same(taskFromTagValue('s', `script ${Buffer.from('echo hi\n').toString('base64')}`), { name: 's', script: 'echo hi\n' });
});

t.test('malformed tag values say what the form is', async (t) => {
  t.match(taskFromTagValue('a', ''), /the value is empty/);
  t.match(taskFromTagValue('a', 'pull'), /pull needs at least one image/);
  t.match(taskFromTagValue('a', 'unit restart'), /unit takes an action and a unit name/);
  t.match(taskFromTagValue('a', 'wait socket /x'), /wait takes one condition/);
  t.match(taskFromTagValue('a', 'wait url a b'), /wait takes one condition/);
  t.match(taskFromTagValue('a', 'exec'), /exec needs a program/);
  t.match(taskFromTagValue('a', 'script not*base64'), /not valid base64/);
  t.match(taskFromTagValue('a', 'script YQ== YQ=='), /script takes one word/);
  t.match(taskFromTagValue('a', 'file /etc/x'), /unknown kind "file"; a tag value starts with one of pull, unit, wait, exec, script/);
});

t.test('a misspelled kind in a tag value names the kind it meant (issue 20, item 5)', async (t) => {
  t.equal(taskFromTagValue('a', 'pul public.ecr.aws/x/y:1'), 'unknown kind "pul"; a tag value starts with one of pull, unit, wait, exec, script; did you mean "pull"?');
  t.equal(taskFromTagValue('a', 'wiat url http://127.0.0.1/'), 'unknown kind "wiat"; a tag value starts with one of pull, unit, wait, exec, script; did you mean "wait"?');
});

t.test('an invisible or unusual character in a tag value is named by its code point and position, never split differently', async (t) => {
  // U+00A0 as pasted from a web page used to give `unknown kind "pull public.ecr…"`, which reads like a normal space.
  t.equal(
    taskFromTagValue('a', 'pull\u00a0public.ecr.aws/eks-distro/kubernetes/pause:3.9'),
    'character 5 is U+00A0 NO-BREAK SPACE, which looks like a space but is not one; in a tag value only the ordinary space, tab and newline separate words',
  );
  const cases: [string, string][] = [
    ['\u2007', 'U+2007 FIGURE SPACE, which looks like a space'],
    ['\u202f', 'U+202F NARROW NO-BREAK SPACE, which looks like a space'],
    ['\u3000', 'U+3000 IDEOGRAPHIC SPACE, which looks like a space'],
    ['\u2028', 'U+2028 LINE SEPARATOR, which looks like a line break'],
    ['\u0085', 'U+0085 NEXT LINE, which looks like a line break'],
    ['\u200b', 'U+200B ZERO WIDTH SPACE, an invisible character'],
    ['\ufeff', 'U+FEFF ZERO WIDTH NO-BREAK SPACE (byte order mark), an invisible character'],
    ['\u00ad', 'U+00AD SOFT HYPHEN, an invisible character'],
    ['\u202e', 'U+202E RIGHT-TO-LEFT OVERRIDE, an invisible character'],
    ['\u0000', 'U+0000, a control character'],
    ['\u001b', 'U+001B, a control character'],
    ['\u007f', 'U+007F, a control character'],
    ['\u3164', 'U+3164 HANGUL FILLER, an invisible character'],
  ];
  for (const [c, says] of cases) {
    // Named by code point: a U+2028 in an assertion's name would break tap's own output.
    const name = `U+${c.codePointAt(0)!.toString(16)}`;
    t.equal(taskFromTagValue('a', `unit restart a${c}b.service`).toString().indexOf(`character 15 is ${says}`), 0, name);
    t.match(taskFromTagValue('a', `unit restart 'a${c}b.service'`), /^character 16 is U\+/, `${name} inside quotes too`);
  }
  t.match(taskFromTagValue('a', 'exec /bin/echo \ud83d\ude00\u00a0'), /^character 17 is U\+00A0/, 'characters, not UTF-16 units, are counted');
  t.match(taskFromTagValue('a', 'exec\u00a0/bin/x\u200b'), /^character 5 is U\+00A0 NO-BREAK SPACE, .* \(and 1 more such character\)$/);
  t.same(taskFromTagValue('a', 'exec /bin/echo \t é 中 😀'), { name: 'a', exec: { command: '/bin/echo', args: ['é', '中', '😀'] } }, 'other letters and emoji are fine');
  const bad = tasksFromTags(new Map([['postjoin:10-x', 'pull\u00a0x']]));
  t.match(bad, { enabled: true, tasks: [], problems: [{ source: 'tag:postjoin:10-x', message: /^character 5 is U\+00A0 NO-BREAK SPACE/ }] });
});

t.test('the tags verb refuses a task whose words hold such a character, naming it', async (t) => {
  t.match(tagValueFromSpec('exec', { command: '/bin/echo', args: ['a\u00a0b'] }), { reason: /^its tag value would hold U\+00A0 NO-BREAK SPACE at character 18, which a tag value may not hold/ });
});

t.test('tags become tasks in byte-wise key order; other tags are not ours', async (t) => {
  const out = tasksFromTags(
    new Map([
      ['Name', 'node-1'],
      ['postjoin:20-b', 'wait file /b'],
      ['postjoin:10-a', 'wait file /a'],
      ['postjoin:9-c', 'wait file /c'],
      ['postjoin:10-B', 'wait file /B'],
      ['eks:cluster-name', 'prod'],
    ]),
  );
  if (!out.enabled) throw new Error('enabled expected');
  t.same(out.problems, []);
  t.same(
    out.tasks.map((st) => [st.origin, st.source, (st.raw as { name: string }).name]),
    [
      ['tag:postjoin:10-B', 'tags', '10-B'],
      ['tag:postjoin:10-a', 'tags', '10-a'],
      ['tag:postjoin:20-b', 'tags', '20-b'],
      ['tag:postjoin:9-c', 'tags', '9-c'],
    ],
  );
  t.same(out.tasks[0]!.locate(['wait', 'file']), { source: 'tag:postjoin:10-B', at: 'wait.file' });
});

t.test('postjoin:enabled=false (any case) switches the tags source off; other values do not', async (t) => {
  for (const v of ['false', 'FALSE', ' False ']) t.same(tasksFromTags(new Map([['postjoin:enabled', v], ['postjoin:x', 'bad']])), { enabled: false }, v);
  const on = tasksFromTags(new Map([['postjoin:enabled', 'true'], ['postjoin:10-x', 'wait file /x']]));
  t.equal(on.enabled && on.tasks.length, 1, 'postjoin:enabled is not itself a task');
});

t.test('every bad key and value is reported, each naming its tag key', async (t) => {
  const out = tasksFromTags(
    new Map([
      ['postjoin:', 'wait file /a'],
      ['postjoin:-x', 'wait file /a'],
      ['postjoin:a:b', 'wait file /a'],
      ['postjoin:10-x', 'exec "/bin/true'],
      ['postjoin:11-ok', 'wait file /a'],
    ]),
  );
  if (!out.enabled) throw new Error('enabled expected');
  t.same(
    out.problems.map((p) => `${p.source}: ${p.message}`),
    [
      'tag:postjoin:: tag key "postjoin:": "" is not a task name (1-63 letters, digits, ".", "_" and "-", starting with a letter or digit)',
      'tag:postjoin:-x: tag key "postjoin:-x": "-x" is not a task name (1-63 letters, digits, ".", "_" and "-", starting with a letter or digit)',
      'tag:postjoin:10-x: unterminated double quote at character 6',
      'tag:postjoin:a:b: tag key "postjoin:a:b": "a:b" is not a task name (1-63 letters, digits, ".", "_" and "-", starting with a letter or digit)',
    ],
  );
  t.equal(out.tasks.length, 1);
});

t.test('the reverse: specs become tag values that parse back to the same task', async (t) => {
  const specs: [string, unknown][] = [
    ['pull', { images: ['a:1', 'b@sha256:00'] }],
    ['unit', { name: 'x.service', action: 'enable-now' }],
    ['wait', { url: 'http://127.0.0.1:1/ready?x=1&y=2' }],
    ['wait', { unit: 'kubelet.service' }],
    ['exec', { command: '/bin/echo', args: ["it's", 'a b', '', '$X; | *'] }],
    ['exec', { command: '/bin/true' }],
    ['script', 'set -x\necho "héllo"\n'],
  ];
  for (const [kind, spec] of specs) {
    const out = tagValueFromSpec(kind, spec);
    if (!('value' in out)) throw new Error(out.reason);
    const back = taskFromTagValue('n', out.value) as Record<string, unknown>;
    const want = kind === 'exec' && !(spec as { args?: unknown }).args ? { ...(spec as object), args: [] } : spec;
    t.same(back[kind], want, `${kind}: ${out.value}`);
  }
  t.same(tagValueFromSpec('pull', { images: ['a'], concurrency: 2 }), { value: 'pull a', dropped: ['pull.concurrency'] });
  t.same(tagValueFromSpec('wait', { url: 'x', timeout: '1s' }), { value: 'wait url x', dropped: ['wait.timeout'] });
  t.same(tagValueFromSpec('wait', { url: 'x', file: '/y' }), { reason: 'wait needs exactly one of url, file or unit' });
  t.match(tagValueFromSpec('file', { path: '/x' }), { reason: /kind "file" has no tag form/ });
});
