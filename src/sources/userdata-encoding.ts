import { gunzipSync } from 'node:zlib';
import { quoted } from '../base/shown-text.js';

/**
 * The encodings user data arrives in. EC2 launch templates carry user data base64-encoded, tools gzip it to
 * stay under EC2's 16 KiB limit, and nodeadm accepts both (base64 first, then gzip by its magic bytes). We
 * accept the same, and also the same layers repeated (a gzip inside base64 inside gzip), up to a few.
 */
export const MAX_LAYERS = 4;

/** Raised for bytes that claim an encoding but do not decode; the caller says which input it was. */
export class DecodeError extends Error {}

export const isGzip = (data: Buffer): boolean => data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;

/**
 * Standard base64 as Go's StdEncoding (what nodeadm uses) accepts it: line breaks are ignored, padding is
 * required, and any other stray character means "not base64". Returns undefined for anything else, so text
 * (a MIME message, YAML, a shell script: all have spaces or colons) is never mistaken for base64.
 */
export function decodeIfBase64(data: Buffer): Buffer | undefined {
  const s = data.toString('latin1').replace(/[\r\n]/g, '');
  if (s.length === 0 || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return undefined;
  return Buffer.from(s, 'base64');
}

/** A body declared `Content-Transfer-Encoding: base64`: MIME wraps lines, so any whitespace is ignored. */
export function decodeBase64Strict(data: Buffer): Buffer {
  const s = data.toString('latin1').replace(/\s+/g, '');
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) {
    throw new DecodeError('Content-Transfer-Encoding is base64, but the body is not valid base64');
  }
  return Buffer.from(s, 'base64');
}

/** RFC 2045 quoted-printable, which Go's multipart reader (nodeadm's) decodes transparently too. */
export function decodeQuotedPrintable(data: Buffer): Buffer {
  const s = data.toString('latin1').replace(/[ \t]+(?=\r?\n)/g, '').replace(/=\r?\n/g, '');
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x3d) {
      const hex = s.slice(i + 1, i + 3);
      // The two characters after `=` may be anything, a line break included: shown escaped, so the problem is one line.
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new DecodeError(`invalid quoted-printable escape ${quoted(`=${hex}`)}`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(c);
  }
  return Buffer.from(bytes);
}

/**
 * Gunzips, stopping as soon as the output would pass `limit` bytes: a 16 KiB gzip bomb must cost at most
 * `limit` bytes of memory, not expand to gigabytes first.
 */
export function gunzipCapped(data: Buffer, limit: number, limitText: string): Buffer {
  try {
    return gunzipSync(data, { maxOutputLength: Math.max(1, limit) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new DecodeError(`decompresses to more than ${limitText}, the limit (against gzip bombs)`);
    }
    throw new DecodeError(`starts like gzip but does not decompress: ${(err as Error).message}`);
  }
}

/** Peels base64 and gzip layers until neither applies. The result is at most `limit` bytes. */
export function unwrapLayers(data: Buffer, limit: number, limitText: string): Buffer {
  let out = data;
  for (let layer = 0; layer < MAX_LAYERS; layer++) {
    if (isGzip(out)) {
      out = gunzipCapped(out, limit, limitText);
      continue;
    }
    const decoded = decodeIfBase64(out);
    if (decoded === undefined || decoded.length === 0) break;
    out = decoded;
  }
  if (out.length > limit) throw new DecodeError(`is larger than ${limitText}, the limit`);
  return out;
}
