// Properties of the one duration parser (src/base/duration.ts): Go-style strings such as `250ms`, `5m`, `1h30m`.
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../../src/base/duration.js';
import { fail } from './checks.js';
import type { PropertyDef } from './harness.js';

/** The longest delay Node's timers honour; a longer one fires after 1 ms (TimeoutOverflowWarning). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
const UNITS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;

/** Strings near the grammar: digits, dots, unit letters, spaces, signs, and some arbitrary text. */
const durationish = fc.oneof(
  fc.string({ unit: fc.constantFrom(...'0123456789.hmsµun -+e'.split('')), maxLength: 24 }),
  fc.string({ maxLength: 24 }),
  fc.tuple(fc.nat({ max: 10 ** 12 }), fc.constantFrom('h', 'm', 's', 'ms', 'd', '')).map(([n, u]) => `${n}${u}`),
);

/** Go-style durations as a user writes them: parts in any order, possibly repeated, possibly fractional. */
const goParts = fc.array(
  fc.tuple(fc.oneof(fc.nat({ max: 1000 }), fc.nat({ max: 10 ** 9 })), fc.option(fc.nat({ max: 999 }), { nil: undefined }), fc.constantFrom(...(Object.keys(UNITS) as (keyof typeof UNITS)[]))),
  { minLength: 1, maxLength: 5 },
);

export const durationProperties = [
  {
    parser: 'duration',
    name: 'parseDuration never throws, and answers ok with a whole, non-negative ms or a message',
    arbitrary: fc.oneof(durationish, fc.anything()) as fc.Arbitrary<unknown>,
    runs: 2000,
    check(input: unknown) {
      const r = parseDuration(input);
      if (r.ok) {
        if (!Number.isSafeInteger(r.ms) || r.ms < 0) fail(`ok with ms ${r.ms}`);
      } else if (typeof r.message !== 'string' || r.message === '') fail('refused without a message');
    },
  } satisfies PropertyDef<unknown>,
  {
    parser: 'duration',
    name: 'every accepted duration is one a timer can wait for (at most 2^31-1 ms)',
    arbitrary: fc.oneof(durationish, goParts.map((ps) => ps.map(([n, f, u]) => `${n}${f == null ? '' : `.${f}`}${u}`).join(''))),
    runs: 2000,
    check(input: string) {
      const r = parseDuration(input);
      if (r.ok && r.ms > MAX_TIMER_MS) fail(`"${input}" is accepted as ${r.ms} ms, which setTimeout turns into 1 ms`);
    },
  } satisfies PropertyDef<string>,
  {
    parser: 'duration',
    name: 'a Go-style duration is the sum of its parts, or refused as too long',
    arbitrary: goParts,
    runs: 2000,
    check(parts: [number, number | undefined, keyof typeof UNITS][]) {
      const text = parts.map(([n, f, u]) => `${n}${f == null ? '' : `.${f}`}${u}`).join('');
      const want = Math.round(parts.reduce((sum, [n, f, u]) => sum + Number(`${n}${f == null ? '' : `.${f}`}`) * UNITS[u], 0));
      const r = parseDuration(text);
      if (want <= MAX_TIMER_MS) {
        if (!r.ok) fail(`"${text}" refused: ${r.message}`);
        // Fractions are summed in floating point; allow the rounding of one part.
        if (Math.abs(r.ms - want) > parts.length) fail(`"${text}" parsed as ${r.ms} ms, expected ${want}`);
      } else if (r.ok) fail(`"${text}" (${want} ms) accepted as ${r.ms} ms, past what a timer can wait`);
    },
  } satisfies PropertyDef<[number, number | undefined, keyof typeof UNITS][]>,
  {
    parser: 'duration',
    name: 'formatDuration writes what parseDuration reads back to the same ms',
    arbitrary: fc.oneof(fc.integer({ min: 0, max: MAX_TIMER_MS }), fc.integer({ min: 0, max: 100_000 })),
    runs: 2000,
    check(ms: number) {
      const text = formatDuration(ms);
      const r = parseDuration(text);
      if (!r.ok || r.ms !== ms) fail(`${ms} ms formats as "${text}", which parses as ${JSON.stringify(r)}`);
    },
  } satisfies PropertyDef<number>,
] as const;
