/**
 * Shell syntax in an exec task's words, which exec passes to the program as written: it runs no shell, so
 * nothing expands `$VAR` or `~`, or runs `$(cmd)`. Said as a warning at plan time (issue 20), never refused:
 * the literal text may be what the program wants.
 *
 * What counts is what a shell would change and a person writing an argument vector most likely meant for a
 * shell: `$NAME`, `${…}`, `$(…)` (and `$((…))`), a pair of backticks, and `~` at the start of a word. Not a
 * lone `$` or one before a digit (`^x$` in a pattern, `$5` in a price; the positional parameters of a script
 * that does not exist here), nor the special parameters `$$`, `$?`, `$!`, which nobody means in argv.
 */
export interface ShellSyntax {
  /** The construct as written, shortened to 40 characters. */
  text: string;
  what: 'variable' | 'substitution' | 'tilde';
}

const PATTERNS: [RegExp, ShellSyntax['what']][] = [
  [/\$\((?:[^()]|\([^()]*\))*\)?/, 'substitution'],
  [/`[^`]+`/, 'substitution'],
  [/\$\{[^}]*\}?/, 'variable'],
  [/\$[A-Za-z_][A-Za-z0-9_]*/, 'variable'],
];
const MAX_SHOWN = 40;

/** The first construct in `word` a shell would expand or run, if any. */
export function shellSyntaxIn(word: string): ShellSyntax | undefined {
  // A tilde prefix is `~` or `~login`, ending the word or followed by "/"; the whole word is the clearer quote.
  if (/^~[A-Za-z0-9._-]*(\/|$)/.test(word)) return { text: shorten(word), what: 'tilde' };
  let first: { at: number; found: ShellSyntax } | undefined;
  for (const [re, what] of PATTERNS) {
    const m = re.exec(word);
    if (m && (!first || m.index < first.at)) first = { at: m.index, found: { text: shorten(m[0]), what } };
  }
  return first?.found;
}

function shorten(s: string): string {
  const chars = [...s];
  return chars.length <= MAX_SHOWN ? s : `${chars.slice(0, MAX_SHOWN - 1).join('')}…`;
}

/**
 * Programs that read `$` in their own words (a shell's `-c` script, an awk, sed, jq or perl program, envsubst's
 * format): the words after them are theirs, and `bash -c 'echo $X'` is the right way to get a shell.
 */
const READS_DOLLAR_ITSELF = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'pwsh', 'awk', 'gawk', 'mawk', 'nawk', 'sed', 'jq', 'perl', 'envsubst']);

/**
 * The words of an exec task that nothing will expand: the command and its arguments, up to and including the
 * first word naming a program that reads `$` itself (`timeout 30 sh -c …`: `timeout`, `30`, `sh`).
 */
export function literalWords(command: string, args: readonly string[]): { path: (string | number)[]; word: string }[] {
  const words = [{ path: ['command'] as (string | number)[], word: command }, ...args.map((word, i) => ({ path: ['args', i], word }))];
  const interpreter = words.findIndex((w) => READS_DOLLAR_ITSELF.has(w.word.slice(w.word.lastIndexOf('/') + 1)));
  return interpreter < 0 ? words : words.slice(0, interpreter + 1);
}
