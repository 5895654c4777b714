/**
 * Text from an input (a tag value, a MIME header, a YAML key, bytes that did not decode) shown inside a
 * message. A problem is one line: the journal keeps one line per problem and `validate` prints one per line,
 * so a line break from the input would split it, a control character could rewrite the terminal, and an
 * invisible one (a bidi override, a zero-width space) would make the message say something else than the
 * input does. Such characters are shown escaped, and long text is cut: the message points at the input, it
 * does not repeat it.
 */

/**
 * Characters a reader cannot see as themselves: controls (C0, DEL, C1), format characters (bidi controls,
 * zero-width ones, the byte order mark), spaces other than the ordinary one, line and paragraph separators,
 * lone surrogates, and the blank-looking fillers.
 */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Cs}\u115f\u1160\u2800\u3164\uffa0]/u;

/** Whether `c` (one character) is one a reader cannot see as itself; the ordinary space is not. */
export function isHiddenCharacter(c: string): boolean {
  return c !== ' ' && HIDDEN.test(c);
}

/** The short escapes JSON uses, so a quoted value reads as JSON.stringify would write it where it can. */
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function escaped(c: string): string {
  const short = SHORT[c];
  if (short) return short;
  const cp = c.codePointAt(0)!;
  const hex = cp.toString(16).padStart(4, '0');
  return cp > 0xffff ? `\\u{${hex}}` : `\\u${hex}`;
}

/** Cuts `text` to `max` characters (code points, as a person counts them); `more` is how many were left out. */
function cut(text: string, max: number): { head: string; total: number; more: number } {
  if (text.length <= max) return { head: text, total: [...text].length, more: 0 };
  const chars = [...text];
  return chars.length <= max ? { head: text, total: chars.length, more: 0 } : { head: chars.slice(0, max).join(''), total: chars.length, more: chars.length - max };
}

/**
 * A value for a message. A string in double quotes, as JSON would write it (`"` and `\` escaped too), with every
 * hidden character escaped (`\n`, `\u001b`, `\u202e`, …) and cut after `max` characters:
 * `"abc…"… (5000 characters)`. Anything else as JSON, made one line and cut the same way.
 */
export function quoted(value: unknown, max = 80): string {
  if (typeof value !== 'string') return oneLine(asJson(value), max);
  const { head, total, more } = cut(value, max);
  let out = '';
  for (const c of head) out += c === '"' || c === '\\' ? `\\${c}` : isHiddenCharacter(c) ? escaped(c) : c;
  return more ? `"${out}"… (${total} characters)` : `"${out}"`;
}

/** JSON, or what can be said of a value JSON cannot write (a cycle, a BigInt). */
function asJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * `text` made one line for a message, without quotes: every hidden character escaped, and cut after `max`
 * characters with "…". For text that is already a message (a library's error, a whole problem) or part of one.
 */
export function oneLine(text: string, max = Infinity): string {
  const { head, more } = cut(text, max);
  let out = '';
  for (const c of head) out += isHiddenCharacter(c) ? escaped(c) : c;
  return more ? `${out}…` : out;
}
