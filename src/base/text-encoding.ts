import { isUtf8 } from 'node:buffer';
import { InvalidInput } from './errors.js';

/** Byte order marks of encodings that are not UTF-8, longest first (UTF-32 LE starts like UTF-16 LE). */
const FOREIGN_BOMS: [bytes: number[], name: string][] = [
  [[0xff, 0xfe, 0x00, 0x00], 'UTF-32 (little-endian: it starts with the byte order mark FF FE 00 00)'],
  [[0x00, 0x00, 0xfe, 0xff], 'UTF-32 (big-endian: it starts with the byte order mark 00 00 FE FF)'],
  [[0xff, 0xfe], 'UTF-16 (little-endian: it starts with the byte order mark FF FE)'],
  [[0xfe, 0xff], 'UTF-16 (big-endian: it starts with the byte order mark FE FF)'],
];

/**
 * The text of a task file, user-data part or config, which must be UTF-8. A byte that is not UTF-8 is exit 2
 * naming its offset and line, never a U+FFFD in its place: a Latin-1 "é" in a `file` task's content would be
 * written to the node changed. A UTF-8 byte order mark is kept, as before (YAML and our JSON path skip it).
 */
export function decodeUtf8Text(bytes: Buffer, source: string): string {
  const foreign = FOREIGN_BOMS.find(([bom]) => bom.every((b, i) => bytes[i] === b));
  if (foreign) throw new InvalidInput({ source, message: `is ${foreign[1]}, not UTF-8; save the file as UTF-8` });
  // NUL is valid UTF-8 but never in YAML or JSON text; it is the mark of UTF-16 without a byte order mark.
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    throw new InvalidInput({ source, line: lineAt(bytes, nul), message: `holds a NUL byte at offset ${nul}: is it UTF-16 without a byte order mark, or not text at all?` });
  }
  if (!isUtf8(bytes)) {
    const at = firstInvalidUtf8(bytes);
    const byte = `byte 0x${bytes[at]!.toString(16).toUpperCase().padStart(2, '0')} at offset ${at}`;
    const why = sequenceLength(bytes[at]!) > bytes.length - at && continues(bytes, at)
      ? `${byte} starts a character that the file ends inside`
      : `${byte} is not valid UTF-8 (Latin-1 or Windows-1252 text?)`;
    throw new InvalidInput({ source, line: lineAt(bytes, at), message: `is not UTF-8: ${why}; save the file as UTF-8` });
  }
  return new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
}

/** 1-based line of a byte offset. */
function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < offset; i = bytes.indexOf(0x0a, i + 1)) line++;
  return line;
}

/** How many bytes a sequence that starts with this lead byte has; 0 for a byte that cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Whether every byte after the lead, up to the end, is a continuation byte that may follow it. */
function continues(bytes: Buffer, at: number): boolean {
  for (let i = at + 1; i < bytes.length; i++) if (!validContinuation(bytes[at]!, i - at, bytes[i]!)) return false;
  return sequenceLength(bytes[at]!) > 1;
}

/**
 * Whether `b` may be byte `k` (1-based after the lead) of a sequence: 10xxxxxx, with the narrower second
 * byte that rules out overlong forms (E0, F0), UTF-16 surrogates (ED) and code points past U+10FFFF (F4).
 */
function validContinuation(lead: number, k: number, b: number): boolean {
  if (k === 1 && lead === 0xe0) return b >= 0xa0 && b <= 0xbf;
  if (k === 1 && lead === 0xed) return b >= 0x80 && b <= 0x9f;
  if (k === 1 && lead === 0xf0) return b >= 0x90 && b <= 0xbf;
  if (k === 1 && lead === 0xf4) return b >= 0x80 && b <= 0x8f;
  return b >= 0x80 && b <= 0xbf;
}

/** Offset of the first byte of the first sequence that is not well-formed UTF-8 (RFC 3629); -1 if none. */
export function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes[i]!);
    if (n === 0 || i + n > bytes.length) return i;
    for (let k = 1; k < n; k++) if (!validContinuation(bytes[i]!, k, bytes[i + k]!)) return i;
    i += n;
  }
  return -1;
}
