import { isHiddenCharacter } from '../base/shown-text.js';

/**
 * Characters a tag value may not hold: ones that look like a space or a line break but do not separate words
 * (U+00A0 pasted from a web page gave `unknown kind "pull public.ecr…"`, which reads like a normal space),
 * invisible ones (zero-width, bidi controls, the byte order mark) and control characters. The splitter would
 * read them as part of a word, so the node would run something other than what the tag seems to say.
 * Tab, newline and carriage return are the ordinary blanks of the grammar and stay allowed.
 */
const BLANKS = new Set(['\t', '\n', '\r']);

const SPACES: Record<number, string> = {
  0x00a0: 'NO-BREAK SPACE',
  0x1680: 'OGHAM SPACE MARK',
  0x2000: 'EN QUAD',
  0x2001: 'EM QUAD',
  0x2002: 'EN SPACE',
  0x2003: 'EM SPACE',
  0x2004: 'THREE-PER-EM SPACE',
  0x2005: 'FOUR-PER-EM SPACE',
  0x2006: 'SIX-PER-EM SPACE',
  0x2007: 'FIGURE SPACE',
  0x2008: 'PUNCTUATION SPACE',
  0x2009: 'THIN SPACE',
  0x200a: 'HAIR SPACE',
  0x202f: 'NARROW NO-BREAK SPACE',
  0x205f: 'MEDIUM MATHEMATICAL SPACE',
  0x3000: 'IDEOGRAPHIC SPACE',
};
const BREAKS: Record<number, string> = {
  0x000b: 'LINE TABULATION',
  0x000c: 'FORM FEED',
  0x0085: 'NEXT LINE',
  0x2028: 'LINE SEPARATOR',
  0x2029: 'PARAGRAPH SEPARATOR',
};
const INVISIBLE: Record<number, string> = {
  0x00ad: 'SOFT HYPHEN',
  0x061c: 'ARABIC LETTER MARK',
  0x115f: 'HANGUL CHOSEONG FILLER',
  0x1160: 'HANGUL JUNGSEONG FILLER',
  0x180e: 'MONGOLIAN VOWEL SEPARATOR',
  0x200b: 'ZERO WIDTH SPACE',
  0x200c: 'ZERO WIDTH NON-JOINER',
  0x200d: 'ZERO WIDTH JOINER',
  0x200e: 'LEFT-TO-RIGHT MARK',
  0x200f: 'RIGHT-TO-LEFT MARK',
  0x202a: 'LEFT-TO-RIGHT EMBEDDING',
  0x202b: 'RIGHT-TO-LEFT EMBEDDING',
  0x202c: 'POP DIRECTIONAL FORMATTING',
  0x202d: 'LEFT-TO-RIGHT OVERRIDE',
  0x202e: 'RIGHT-TO-LEFT OVERRIDE',
  0x2060: 'WORD JOINER',
  0x2066: 'LEFT-TO-RIGHT ISOLATE',
  0x2067: 'RIGHT-TO-LEFT ISOLATE',
  0x2068: 'FIRST STRONG ISOLATE',
  0x2069: 'POP DIRECTIONAL ISOLATE',
  0x2800: 'BRAILLE PATTERN BLANK',
  0x3164: 'HANGUL FILLER',
  0xfeff: 'ZERO WIDTH NO-BREAK SPACE (byte order mark)',
  0xffa0: 'HALFWIDTH HANGUL FILLER',
};

export interface UnusualCharacter {
  /** 1-based position in characters (code points), as a person counts them, not UTF-16 units. */
  position: number;
  codePoint: number;
  /** `U+00A0 NO-BREAK SPACE, which looks like a space but is not one`. */
  description: string;
  /** How many more such characters follow. */
  more: number;
}

/** The first character of `value` that a tag value may not hold, or undefined. */
export function findUnusualCharacter(value: string): UnusualCharacter | undefined {
  let first: UnusualCharacter | undefined;
  let position = 0;
  for (const c of value) {
    position++;
    if (BLANKS.has(c) || !isHiddenCharacter(c)) continue;
    if (first) first.more++;
    else first = { position, codePoint: c.codePointAt(0)!, description: describe(c.codePointAt(0)!), more: 0 };
  }
  return first;
}

function describe(cp: number): string {
  const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (SPACES[cp]) return `${u} ${SPACES[cp]}, which looks like a space but is not one`;
  if (BREAKS[cp]) return `${u} ${BREAKS[cp]}, which looks like a line break but is not one`;
  if (INVISIBLE[cp]) return `${u} ${INVISIBLE[cp]}, an invisible character`;
  if (cp >= 0xd800 && cp <= 0xdfff) return `${u}, half of a UTF-16 surrogate pair, not a character`;
  if (/\p{Cc}/u.test(String.fromCodePoint(cp))) return `${u}, a control character`;
  return `${u}, an invisible formatting character`;
}

/** The problem with a tag value that holds such a character, in one line; undefined if it holds none. */
export function unusualCharacterProblem(value: string): string | undefined {
  const u = findUnusualCharacter(value);
  if (!u) return undefined;
  const more = u.more ? ` (and ${u.more} more such character${u.more === 1 ? '' : 's'})` : '';
  const rule = /looks like/.test(u.description) ? 'in a tag value only the ordinary space, tab and newline separate words' : 'a tag value may not hold one; retype the value';
  return `character ${u.position} is ${u.description}; ${rule}${more}`;
}
