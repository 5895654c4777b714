import { InvalidInput, type Problem } from '../base/errors.js';
import { quoted } from '../base/shown-text.js';
import { firstInvalidUtf8 } from '../base/text-encoding.js';
import { DecodeError, decodeBase64Strict, decodeIfBase64, decodeQuotedPrintable, isGzip, unwrapLayers } from './userdata-encoding.js';

/** Our part's media type; nodeadm ignores it, and cloud-init only warns about a type it does not know. */
export const POSTJOIN_PART_TYPE = 'application/postjoin+yaml';
/** Total decoded size of the user data, and again of our parts together (design §6). */
export const USER_DATA_LIMIT_BYTES = 1024 * 1024;
const LIMIT_TEXT = '1 MiB';

export interface MimePart {
  /** Counts every part from 0, whatever its type, as origins do: `userdata:part[2]`. */
  index: number;
  /** The media type, lower-cased, without parameters; `text/plain` when the part has none (RFC 2045). */
  contentType: string;
  headers: Map<string, string>;
  /** The part's bytes as written, before any transfer encoding is undone. */
  body: Buffer;
}

export type UserData = { multipart: false } | { multipart: true; parts: MimePart[] };

export interface PostjoinPart {
  index: number;
  /** `userdata:part[N]`: the label for problems and origins. */
  label: string;
  text: string;
}

/**
 * Decodes user data as nodeadm does (base64 and/or gzip, then MIME). Anything that is not a MIME multipart
 * message is not ours: `{multipart: false}`. A multipart that is malformed is an error naming the part.
 * `label` prefixes problem sources, `userdata` on the node and `userdata:FILE` for `validate`.
 */
export function parseUserData(raw: Buffer, label = 'userdata'): UserData {
  let data: Buffer;
  try {
    data = unwrapLayers(raw, USER_DATA_LIMIT_BYTES, LIMIT_TEXT);
  } catch (err) {
    throw new InvalidInput({ source: label, message: `the user data ${(err as Error).message}` });
  }
  // latin1 maps bytes 1:1 to characters, so offsets are byte offsets and gzip bodies survive the split.
  const text = data.toString('latin1');
  const head = readHeaders(text, 0);
  if (typeof head === 'string') return { multipart: false };
  const type = parseContentType(head.headers.get('content-type') ?? '');
  if (!type?.type.startsWith('multipart/')) return { multipart: false };
  const boundary = type.params.get('boundary');
  if (!boundary || boundary.length > 200) {
    throw new InvalidInput({ source: label, message: `malformed MIME multipart: Content-Type "${type.type}" has no boundary parameter` });
  }
  return { multipart: true, parts: splitParts(text, head.bodyStart, boundary, label) };
}

/**
 * Whether a file is (meant as) whole user data rather than a task document: gzip, base64, or a MIME header
 * block. For `validate`, which takes both kinds of file.
 */
export function looksLikeUserData(raw: Buffer): boolean {
  if (isGzip(raw) || (decodeIfBase64(raw)?.length ?? 0) > 0) return true;
  const head = readHeaders(raw.subarray(0, 64 * 1024).toString('latin1'), 0);
  return typeof head !== 'string' && (head.headers.has('mime-version') || /^\s*multipart\//i.test(head.headers.get('content-type') ?? ''));
}

/** The decoded text of every `application/postjoin+yaml` part, in order. Every bad part is reported. */
export function postjoinParts(raw: Buffer, label = 'userdata'): PostjoinPart[] {
  const ud = parseUserData(raw, label);
  if (!ud.multipart) return [];
  const problems: Problem[] = [];
  const out: PostjoinPart[] = [];
  let budget = USER_DATA_LIMIT_BYTES;
  for (const part of ud.parts) {
    if (part.contentType !== POSTJOIN_PART_TYPE) continue;
    const partLabel = `${label}:part[${part.index}]`;
    try {
      const bytes = decodePart(part, budget);
      budget -= bytes.length;
      out.push({ index: part.index, label: partLabel, text: utf8(bytes) });
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      problems.push({ source: partLabel, message: `${part.contentType} part: ${err.message}` });
    }
  }
  if (problems.length > 0) throw new InvalidInput(problems);
  return out;
}

function decodePart(part: MimePart, budget: number): Buffer {
  const cte = (part.headers.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase();
  let bytes: Buffer;
  if (cte === 'base64') bytes = decodeBase64Strict(part.body);
  else if (cte === 'quoted-printable') bytes = decodeQuotedPrintable(part.body);
  else if (['7bit', '8bit', 'binary'].includes(cte)) bytes = part.body;
  else throw new DecodeError(`unknown Content-Transfer-Encoding ${quoted(cte)}; use base64 or none`);
  return unwrapLayers(bytes, budget, `${LIMIT_TEXT} (all postjoin parts together)`);
}

function utf8(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const byte = at < 0 ? '' : `: byte 0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')} at offset ${at} of the decoded body`;
    throw new DecodeError(`is not UTF-8 text after decoding${byte} (a wrong or missing Content-Transfer-Encoding?)`);
  }
}

interface Line {
  start: number;
  /** End of the content, before the line break. */
  end: number;
  /** Start of the next line. */
  next: number;
}

/** Lines ending in LF or CRLF (the last may end without one). */
function* lines(text: string, from: number): Generator<Line> {
  let start = from;
  while (start < text.length) {
    const lf = text.indexOf('\n', start);
    if (lf < 0) {
      yield { start, end: text.length, next: text.length };
      return;
    }
    yield { start, end: lf > start && text[lf - 1] === '\r' ? lf - 1 : lf, next: lf + 1 };
    start = lf + 1;
  }
}

const HEADER = /^([!-9;-~]+):[ \t]*(.*)$/;

interface HeaderBlock {
  headers: Map<string, string>;
  bodyStart: number;
  /** False when the text ends before the blank line that ends the block. */
  complete: boolean;
}

/** An RFC 5322 header block, folded lines joined. A string result says why it is not one. */
function readHeaders(text: string, from: number): HeaderBlock | string {
  const headers = new Map<string, string>();
  let last: string | undefined;
  for (const line of lines(text, from)) {
    const s = text.slice(line.start, line.end);
    if (s === '') return { headers, bodyStart: line.next, complete: true };
    if (/^[ \t]/.test(s) && last !== undefined) {
      headers.set(last, `${headers.get(last)} ${s.trim()}`);
      continue;
    }
    const m = HEADER.exec(s);
    if (!m) return `line ${quoted(s, 40)} is not a header`;
    last = m[1]!.toLowerCase();
    // A repeated header keeps its first value, as Go's textproto Get does.
    if (!headers.has(last)) headers.set(last, m[2]!.trim());
  }
  return { headers, bodyStart: text.length, complete: false };
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

/** `type/subtype; name=value; name="quoted \" value"`. Undefined when it is not one. */
export function parseContentType(value: string): ContentType | undefined {
  const m = /^\s*([A-Za-z0-9!#$&^_.+-]+\/[A-Za-z0-9!#$&^_.+-]+)\s*/.exec(value);
  if (!m) return undefined;
  const params = new Map<string, string>();
  const param = /;\s*([A-Za-z0-9!#$&^_.+*'-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s"]+))\s*/y;
  let pos = m[0].length;
  while (pos < value.length) {
    if (/^;?\s*$/.test(value.slice(pos))) break;
    param.lastIndex = pos;
    const p = param.exec(value);
    if (!p) return undefined;
    params.set(p[1]!.toLowerCase(), p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!);
    pos = param.lastIndex;
  }
  return { type: m[1]!.toLowerCase(), params };
}

/**
 * Splits a multipart body on its boundary lines (RFC 2046): text before the first is preamble, text after
 * the closing `--boundary--` is epilogue, and the line break before each boundary line belongs to it, not to
 * the part. Either line ending works; trailing whitespace on a boundary line is allowed, as Go allows it.
 * Without the closing boundary, the end is read as Go's reader (nodeadm's) reads it: see `lastPart`.
 */
function splitParts(text: string, bodyStart: number, boundary: string, label: string): MimePart[] {
  const delimiter = `--${boundary}`;
  const parts: MimePart[] = [];
  let partStart: number | undefined;
  let closed = false;
  let prevBreak = 0;
  // Like Go's reader (nodeadm's): if the first boundary line ends in a bare LF, only that LF before each later
  // boundary belongs to it, so a body that ends in CR keeps its CR.
  let lfOnly = false;
  for (const line of lines(text, bodyStart)) {
    const s = text.slice(line.start, line.end);
    const isDelimiter = s.startsWith(delimiter) && /^(--)?[ \t]*$/.test(s.slice(delimiter.length));
    if (isDelimiter) {
      if (partStart === undefined) lfOnly = line.next - line.end === 1;
      else parts.push(makePart(text, parts.length, partStart, Math.max(partStart, line.start - (lfOnly ? 1 : prevBreak)), label));
      if (s.slice(delimiter.length).startsWith('--')) {
        closed = true;
        break;
      }
      // Go reads a boundary line up to its line break, and fails on one the message ends inside.
      if (line.next === line.end) {
        throw new InvalidInput({
          source: label,
          message: `malformed MIME multipart: the message ends in the boundary line ${quoted(delimiter)}, without its line break; nodeadm refuses that too: end the message with the closing boundary ${quoted(`${delimiter}--`)}`,
        });
      }
      partStart = line.next;
    }
    prevBreak = line.next - line.end;
  }
  // Only the closing boundary: no parts, as Go's reader (nodeadm's) reads it, so no tasks rather than exit 2.
  if (partStart === undefined && closed) return parts;
  if (partStart === undefined) {
    throw new InvalidInput({ source: label, message: `malformed MIME multipart: no boundary line ${quoted(delimiter)} in the body` });
  }
  if (!closed) lastPart(text, parts.length, partStart, delimiter, label);
  return parts;
}

/**
 * What follows the last boundary line of a message without the closing boundary, read as Go's reader does.
 * Nothing, or headers the message ends inside (no blank line after them), is the end of the message: Karpenter's
 * examples end with a boundary line `--//`. A part whose body has begun is cut off: exit 2, naming that part.
 * Unlike Go, a cut-off postjoin part is an error too, rather than tasks dropped without a word.
 */
function lastPart(text: string, index: number, start: number, delimiter: string, label: string): void {
  const source = `${label}:part[${index}]`;
  const head = readHeaders(text, start);
  if (typeof head === 'string') throw new InvalidInput({ source, message: `malformed MIME part headers: ${head}` });
  if (!head.complete) {
    if (parseContentType(head.headers.get('content-type') ?? '')?.type !== POSTJOIN_PART_TYPE) return;
    throw new InvalidInput({
      source,
      message: `${POSTJOIN_PART_TYPE} part: malformed MIME multipart: the message ends inside the part's headers, before its body; nodeadm would drop this part without a word`,
    });
  }
  const open = makePart(text, index, start, text.length, label);
  throw new InvalidInput({
    source,
    message: `${open.contentType} part: malformed MIME multipart: the part is cut off: the message ends without the closing boundary ${quoted(`${delimiter}--`)}`,
  });
}

function makePart(text: string, index: number, start: number, end: number, label: string): MimePart {
  const head = readHeaders(text.slice(start, end), 0);
  if (typeof head === 'string') {
    throw new InvalidInput({ source: `${label}:part[${index}]`, message: `malformed MIME part headers: ${head}` });
  }
  const raw = head.headers.get('content-type');
  const type = raw === undefined ? { type: 'text/plain', params: new Map<string, string>() } : parseContentType(raw);
  if (!type) throw new InvalidInput({ source: `${label}:part[${index}]`, message: `malformed Content-Type ${quoted(raw)}` });
  return { index, contentType: type.type, headers: head.headers, body: Buffer.from(text.slice(start + head.bodyStart, end), 'latin1') };
}
