import { quoted } from './shown-text.js';

/**
 * Go-style durations (`250ms`, `30s`, `1h30m`), because EKS users write them in nodeadm and kubelet config
 * all day. A bare number is refused: "30" could mean seconds or milliseconds, and guessing wrong at
 * boot time is expensive.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
/**
 * Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms instead, so a
 * `timeout: 600h` would kill its task at once. Nothing a boot agent waits for takes that long.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

export function parseDuration(input: unknown): DurationResult {
  if (typeof input === 'number') {
    return { ok: false, message: `expected a duration string such as "30s" or "5m", got the bare number ${input}` };
  }
  if (typeof input !== 'string') return { ok: false, message: `expected a duration string such as "30s" or "5m"` };
  const s = input.trim();
  if (s === '0') return { ok: true, ms: 0 };
  if (s === '') return { ok: false, message: 'expected a duration such as "30s", got an empty string' };
  let ms = 0;
  let pos = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) {
      const hint = /^\d+$/.test(s) ? ` (a bare number has no unit; write "${s}s" or "${s}m")` : '';
      return { ok: false, message: `${quoted(input)} is not a duration; use units ms, s, m, h as in "1h30m"${hint}` };
    }
    ms += Number(m[1]) * UNIT_MS[m[2] as string]!;
    pos = PART.lastIndex;
  }
  const rounded = Math.round(ms);
  if (!Number.isFinite(ms) || rounded > MAX_DURATION_MS) {
    return { ok: false, message: `${quoted(input)} is too long; the longest duration is ${formatDuration(MAX_DURATION_MS)}` };
  }
  return { ok: true, ms: rounded };
}

/** The shortest Go-style spelling, used when a normalized plan is printed. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
