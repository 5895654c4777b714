/**
 * Word splitting as a POSIX shell does it for a simple command, and nothing more: the words are never given
 * to a shell, so only whitespace, single quotes, double quotes and backslash are special (design §7).
 * `$`, `;`, `|`, `*` and the rest are ordinary characters; there is no expansion of any kind.
 */
export type SplitResult = { ok: true; words: string[] } | { ok: false; message: string };

const BLANK = /[ \t\n\r]/;
/** Inside double quotes a backslash escapes only these, as in POSIX (`"\n"` keeps its backslash). */
const DQ_ESCAPABLE = new Set(['\\', '"', '$', '`', '\n']);

export function splitWords(input: string): SplitResult {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  while (i < input.length) {
    const c = input[i]!;
    if (BLANK.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const close = input.indexOf("'", i + 1);
      if (close < 0) return { ok: false, message: `unterminated single quote at character ${i + 1}` };
      word += input.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= input.length) return { ok: false, message: `unterminated double quote at character ${i + 1}` };
        const d = input[j]!;
        if (d === '"') break;
        if (d === '\\' && j + 1 < input.length && DQ_ESCAPABLE.has(input[j + 1]!)) {
          if (input[j + 1] !== '\n') word += input[j + 1];
          j += 2;
        } else {
          word += d;
          j++;
        }
      }
      inWord = true;
      i = j + 1;
    } else if (c === '\\') {
      // A backslash at the very end stays itself, as dash and bash keep it.
      if (i + 1 >= input.length) {
        word += c;
        inWord = true;
        break;
      }
      // Backslash-newline is a line continuation: it disappears, as in the shell.
      if (input[i + 1] !== '\n') {
        word += input[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return { ok: true, words };
}

/** Writes a word so that `splitWords` gives it back unchanged: bare when it can be, else single-quoted. */
export function quoteWord(word: string): string {
  if (word !== '' && !/[\s'"\\]/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function joinWords(words: readonly string[]): string {
  return words.map(quoteWord).join(' ');
}
