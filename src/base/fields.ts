import { z } from 'zod';
import { parseDuration } from './duration.js';

/** Shared field schemas, so a duration or a path is checked (and worded) the same way everywhere. */

export const DURATION_PATTERN = '^(0|(\\d+(\\.\\d+)?(ms|s|m|h))+)$';

export function duration(description: string) {
  return z
    .string({
      error: (iss) =>
        typeof iss.input === 'number'
          ? `expected a duration string such as "30s" or "5m", got the bare number ${iss.input}`
          : 'expected a duration string such as "30s" or "5m"',
    })
    .transform((s, ctx) => {
      const r = parseDuration(s);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.message });
        return z.NEVER;
      }
      return r.ms;
    })
    .meta({ description, pattern: DURATION_PATTERN });
}

export const absolutePath = (what: string) =>
  z
    .string({ error: `expected ${what} as an absolute path string` })
    .refine((p) => p.startsWith('/'), { message: `${what} must be an absolute path (start with "/")` })
    .refine((p) => !p.includes('\0'), { message: `${what} must not contain NUL` });

export const nonEmptyString = (what: string) =>
  z.string({ error: `expected ${what} as a string` }).min(1, { message: `${what} must not be empty` });

export const stringList = (what: string) => z.array(z.string({ error: `expected ${what} as strings` }), { error: `expected a list of ${what}` });
