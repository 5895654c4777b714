import { quoted } from './shown-text.js';

/**
 * Where a JSON text first breaks the grammar (RFC 8259), and why. Used only after JSON.parse has refused a
 * text: V8's messages carry no position for some errors ("Unexpected token", "Unexpected end of JSON input")
 * and quote the text around the error, which may hold a secret and spans lines. An iterative scanner, so a
 * deeply nested text cannot overflow the stack.
 */
export interface JsonSyntaxError {
  /** Offset into the text, in UTF-16 code units. */
  offset: number;
  message: string;
}

type State = 'value' | 'value-or-close' | 'key' | 'key-or-close' | 'colon' | 'after';

const NUMBER_OR_LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);

export function findJsonSyntaxError(text: string): JsonSyntaxError | undefined {
  const stack: string[] = [];
  let state: State = 'value';
  let i = 0;
  const at = (offset: number, message: string): JsonSyntaxError => ({ offset, message });
  const shown = (offset: number) => (offset >= text.length ? 'the end of the text' : quoted(String.fromCodePoint(text.codePointAt(offset)!)));
  for (;;) {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
    if (i >= text.length) return state === 'after' && stack.length === 0 ? undefined : at(i, 'unexpected end of the text; something is missing or cut off');
    const c = text[i]!;
    // Right after an opening bracket, the closing one is allowed too; otherwise these are 'value' and 'key'.
    if ((state === 'value-or-close' && c === ']') || (state === 'key-or-close' && c === '}')) {
      stack.pop();
      i++;
      state = 'after';
      continue;
    }
    if (state === 'value-or-close') state = 'value';
    if (state === 'key-or-close') state = 'key';
    switch (state) {
      case 'value': {
        if (c === '{' || c === '[') {
          stack.push(c);
          i++;
          state = c === '{' ? 'key-or-close' : 'value-or-close';
          break;
        }
        if (c === '"') {
          const end = scanString(text, i);
          if (typeof end !== 'number') return end;
          i = end;
          state = 'after';
          break;
        }
        NUMBER_OR_LITERAL.lastIndex = i;
        if (!NUMBER_OR_LITERAL.exec(text)) return at(i, `unexpected ${shown(i)} where a value should be`);
        i = NUMBER_OR_LITERAL.lastIndex;
        state = 'after';
        break;
      }
      case 'key': {
        if (c !== '"') return at(i, `expected a double-quoted property name, found ${shown(i)}`);
        const end = scanString(text, i);
        if (typeof end !== 'number') return end;
        i = end;
        state = 'colon';
        break;
      }
      case 'colon':
        if (c !== ':') return at(i, `expected ":" after a property name, found ${shown(i)}`);
        i++;
        state = 'value';
        break;
      case 'after': {
        const open = stack.at(-1);
        if (open === undefined) return at(i, `unexpected ${shown(i)} after the end of the JSON value`);
        const close = open === '{' ? '}' : ']';
        if (c === ',') {
          i++;
          state = open === '{' ? 'key' : 'value';
        } else if (c === close) {
          stack.pop();
          i++;
        } else return at(i, `expected "," or "${close}", found ${shown(i)}`);
        break;
      }
    }
  }
}

/** The offset just past the string that starts at `start` (a `"`), or where it breaks. */
function scanString(text: string, start: number): number | JsonSyntaxError {
  for (let j = start + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x22) return j + 1;
    if (c < 0x20) return { offset: j, message: 'a control character (such as a line break or tab) inside a string; write it escaped' };
    if (c === 0x5c) {
      const e = text[j + 1];
      if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) j += 5;
      else if (e !== undefined && ESCAPES.has(e)) j += 1;
      else return { offset: j, message: 'an invalid escape sequence in a string' };
    }
  }
  return { offset: start, message: 'a string that is never closed' };
}
