// src/base/shown-text.ts: how input is shown inside a message (one line, every character visible, cut).
import t from 'tap';
import { InvalidInput, formatProblem } from '../../src/base/errors.js';
import { isHiddenCharacter, oneLine, quoted } from '../../src/base/shown-text.js';

t.test('quoted: ordinary text reads as JSON.stringify writes it', async (t) => {
  for (const s of ['', 'pull x', 'a "b" \\ c', 'é 中 😀', 'tab\there', 'nl\nhere', '\b\f\r']) t.equal(quoted(s), JSON.stringify(s), JSON.stringify(s));
});

t.test('quoted: line breaks, controls and invisible characters are escaped', async (t) => {
  t.equal(quoted('=M\n'), '"=M\\n"');
  t.equal(quoted('a\x1b[2Jb'), '"a\\u001b[2Jb"', 'an escape sequence never reaches the terminal');
  t.equal(quoted('\x7f\x85\x9b'), '"\\u007f\\u0085\\u009b"', 'DEL and C1 controls, which JSON.stringify leaves as they are');
  t.equal(quoted('a\u2028b\u2029c'), '"a\\u2028b\\u2029c"', 'line and paragraph separators');
  t.equal(quoted('admin\u202e\u2066txt.exe'), '"admin\\u202e\\u2066txt.exe"', 'bidi controls cannot reorder the message');
  t.equal(quoted('\u200bkubelet\ufeff'), '"\\u200bkubelet\\ufeff"', 'zero-width characters and the byte order mark');
  t.equal(quoted('no\u00a0break'), '"no\\u00a0break"', 'a no-break space looks like a space but is not one');
  t.equal(quoted('lone \ud800 half'), '"lone \\ud800 half"');
  t.equal(quoted('tag \u{e0001}'), '"tag \\u{e0001}"', 'a character past the BMP in braces');
  t.equal(quoted('a b'), '"a b"', 'the ordinary space stays');
});

t.test('quoted: long text is cut after max characters, counted as a person counts them, and says how long it was', async (t) => {
  t.equal(quoted('x'.repeat(100), 10), '"xxxxxxxxxx"… (100 characters)');
  t.equal(quoted('😀'.repeat(12), 10), `"${'😀'.repeat(10)}"… (12 characters)`, 'a character past the BMP is one, not two');
  t.equal(quoted('x'.repeat(10), 10), `"${'x'.repeat(10)}"`, 'exactly max: not cut');
});

t.test('quoted: a value that is not a string is shown as JSON, one line, cut', async (t) => {
  t.equal(quoted(42), '42');
  t.equal(quoted(null), 'null');
  t.equal(quoted({ a: 'x\u2028' }), '{"a":"x\\u2028"}');
  t.equal(quoted(undefined), 'undefined');
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;
  t.equal(quoted(cycle), '[object Object]');
  t.equal(quoted(10n), '[object BigInt]');
});

t.test('oneLine: hidden characters escaped, no quotes added, cut with "…"', async (t) => {
  t.equal(oneLine('Unexpected scalar: "\ufeffa"\n\nat line 1'), 'Unexpected scalar: "\\ufeffa"\\n\\nat line 1');
  t.equal(oneLine('x'.repeat(20), 5), 'xxxxx…');
  t.equal(oneLine('a "quoted" \\ path'), 'a "quoted" \\ path', 'quotes and backslashes of a message stay as they are');
});

t.test('isHiddenCharacter: the class the tag grammar refuses and messages escape', async (t) => {
  // Named by code point: a raw U+0085 or U+2028 in an assertion's name would break tap's own log.
  const u = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const c of ['\n', '\t', '\0', '\x7f', '\x85', '\u00a0', '\u2028', '\u200b', '\u202e', '\ufeff', '\u3164', '\u2800']) t.ok(isHiddenCharacter(c), u(c));
  for (const c of [' ', 'a', 'é', '中', '😀', '"', '\\']) t.notOk(isHiddenCharacter(c), u(c));
});

t.test('formatProblem: one line whatever a source, a path or a message holds', async (t) => {
  t.equal(formatProblem({ source: 'file:/etc/postjoin/tasks.d/a\nb.yaml', at: 'tasks[0]', line: 3, message: 'x\ry' }), 'file:/etc/postjoin/tasks.d/a\\nb.yaml: tasks[0], line 3: x\\ry');
  t.equal(new InvalidInput([{ source: 's', message: 'a\nb' }, { source: 't', message: 'c' }]).message, 's: a\\nb\nt: c', 'an error with two problems: two lines, one each');
});
