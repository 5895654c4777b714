// Assertions the properties share: what "only our typed input error, always located" means.
import { InvalidInput, type Problem } from '../../../src/base/errors.js';

export class PropertyViolation extends Error {}

/**
 * The first character of `text` a problem must not hold as is, named, or undefined: a line break (a problem is
 * one journal line, one `validate` line), any other control character, or one a reader cannot see (format
 * characters such as bidi overrides and zero-width spaces, separators, spaces other than the ordinary one, lone
 * surrogates). Written here on its own, not with the product's helper, so the check does not trust what it checks.
 */
export function unshown(text: string | undefined): string | undefined {
  const m = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u.exec(text ?? '');
  return m ? `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

export function fail(message: string): never {
  throw new PropertyViolation(message);
}

/** How a problem names where it is: a path or a line inside the input, or an origin that carries one. */
export type LocationRule = (p: Problem) => boolean;

export const hasPathOrLine: LocationRule = (p) => (p.at !== undefined && p.at !== '') || p.line !== undefined || p.source.includes('#');

/**
 * Runs `fn`. It may return, or throw InvalidInput; anything else thrown is a violation. Every problem must have
 * a non-empty source starting with `sourcePrefix`, a non-empty message, and satisfy `located`.
 */
export function onlyInvalidInput<R>(fn: () => R, sourcePrefix: string, located: LocationRule = () => true): { ok: true; value: R } | { ok: false; err: InvalidInput } {
  try {
    return { ok: true, value: fn() };
  } catch (err) {
    return { ok: false, err: checkInvalidInput(err, sourcePrefix, located) };
  }
}

export async function onlyInvalidInputAsync<R>(fn: () => Promise<R>, sourcePrefix: string, located: LocationRule = () => true): Promise<{ ok: true; value: R } | { ok: false; err: InvalidInput }> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, err: checkInvalidInput(err, sourcePrefix, located) };
  }
}

export function checkInvalidInput(err: unknown, sourcePrefix: string, located: LocationRule): InvalidInput {
  if (!(err instanceof InvalidInput)) fail(`threw ${(err as Error)?.name ?? typeof err} instead of InvalidInput: ${(err as Error)?.stack ?? String(err)}`);
  if (err.problems.length === 0) fail('InvalidInput with no problems');
  for (const p of err.problems) {
    if (typeof p.source !== 'string' || p.source === '') fail(`a problem without a source: ${JSON.stringify(p)}`);
    if (!p.source.startsWith(sourcePrefix)) fail(`a problem whose source does not name the input (${sourcePrefix}…): ${JSON.stringify(p)}`);
    if (typeof p.message !== 'string' || p.message.trim() === '') fail(`a problem without a message: ${JSON.stringify(p)}`);
    for (const field of ['source', 'at', 'message'] as const) {
      const hidden = unshown(p[field]);
      if (hidden) fail(`a problem's ${field} holds ${hidden} as is (one journal line each, every character visible): ${JSON.stringify(p)}`);
    }
    if (!located(p)) fail(`a problem that names no location (path or line): ${JSON.stringify(p)}`);
  }
  return err;
}
