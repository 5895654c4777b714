// Issue 20, item 3: what counts as shell syntax an exec task's words would need a shell for.
import t from 'tap';
import { shellSyntaxIn, literalWords } from '../../src/kinds/shell-syntax.js';

t.test('variables: $NAME and ${…} anywhere in a word', async (t) => {
  t.same(shellSyntaxIn('--name=$POSTJOIN_NODE_NAME'), { text: '$POSTJOIN_NODE_NAME', what: 'variable' });
  t.same(shellSyntaxIn('$HOME'), { text: '$HOME', what: 'variable' });
  t.same(shellSyntaxIn('/data/${NODE}/x'), { text: '${NODE}', what: 'variable' });
  t.same(shellSyntaxIn('${VAR:-default}'), { text: '${VAR:-default}', what: 'variable' });
  t.same(shellSyntaxIn('a$_x'), { text: '$_x', what: 'variable' });
});

t.test('command substitution: $(…) and backticks', async (t) => {
  t.same(shellSyntaxIn('--host=$(hostname)'), { text: '$(hostname)', what: 'substitution' });
  t.same(shellSyntaxIn('$((1+2))'), { text: '$((1+2))', what: 'substitution' });
  t.same(shellSyntaxIn('id=`cat /etc/machine-id`'), { text: '`cat /etc/machine-id`', what: 'substitution' });
});

t.test('a tilde at the start of a word', async (t) => {
  t.same(shellSyntaxIn('~'), { text: '~', what: 'tilde' });
  t.same(shellSyntaxIn('~/bin/tool'), { text: '~/bin/tool', what: 'tilde' });
  t.same(shellSyntaxIn('~ec2-user/x'), { text: '~ec2-user/x', what: 'tilde' });
});

t.test('what does not count, and why', async (t) => {
  t.equal(shellSyntaxIn('$'), undefined, 'a lone dollar');
  t.equal(shellSyntaxIn('costs $5'), undefined, 'a digit: a price, or a positional parameter no exec task has');
  t.equal(shellSyntaxIn('$1.50'), undefined);
  t.equal(shellSyntaxIn('^foo$'), undefined, 'a regular expression anchor');
  t.equal(shellSyntaxIn('a$ b'), undefined);
  t.equal(shellSyntaxIn('$$'), undefined, 'special parameters are not meant in an argument vector');
  t.equal(shellSyntaxIn('a`b'), undefined, 'a single backtick');
  t.equal(shellSyntaxIn('/home/x/~y'), undefined, 'a tilde not at the start');
  t.equal(shellSyntaxIn('x~'), undefined);
  t.equal(shellSyntaxIn('plain-word'), undefined);
});

t.test('a long construct is shortened, never echoed whole', async (t) => {
  const got = shellSyntaxIn(`$(${'x'.repeat(500)})`);
  t.equal(got?.what, 'substitution');
  t.ok(got!.text.length <= 40, got!.text);
  t.match(got!.text, /…$/);
});

t.test('words a shell or another interpreter reads itself are left alone', async (t) => {
  const checked = (command: string, args: string[]) => literalWords(command, args).map((w) => w.path.join('.'));
  t.same(checked('/bin/echo', ['$HOME', 'x']), ['command', 'args.0', 'args.1']);
  t.same(checked('/bin/bash', ['-c', 'echo $HOME']), ['command'], 'bash expands its own -c script');
  t.same(checked('/usr/bin/timeout', ['30', 'sh', '-c', 'echo $X']), ['command', 'args.0', 'args.1'], 'after the interpreter, its own words');
  t.same(checked('/usr/bin/awk', ['{print $NF}', '/etc/hosts']), ['command']);
  t.same(checked('/usr/bin/env', ['FOO=$BAR', 'prog']), ['command', 'args.0', 'args.1'], 'env expands nothing');
});
