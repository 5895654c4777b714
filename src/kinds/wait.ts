import { stat } from 'node:fs/promises';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../base/duration.js';
import { DURATION_PATTERN, absolutePath } from '../base/fields.js';
import { pollUntil } from '../base/retry.js';
import { unitName } from '../base/unit-name.js';
import type { Host } from '../host/host.js';
import { describeUnit, type UnitState } from '../host/systemd/unit-state.js';
import { TaskFailed, asWord, defineKind, specFields, type TaskContext } from './kind.js';
import { systemdFor, unitPolicyProblems } from './systemd-access.js';

export const DEFAULT_WAIT_INTERVAL_MS = 500;
const REQUEST_TIMEOUT_MS = 5000;
const TARGETS = ['url', 'file', 'unit'] as const;

const schema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    file: absolutePath('wait.file').optional(),
    unit: unitName('wait.unit').optional(),
    interval: z
      .string({ error: 'expected a duration string such as "1s"' })
      .superRefine((s, ctx) => {
        const r = parseDuration(s);
        if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message });
        else if (r.ms < 10) ctx.addIssue({ code: 'custom', message: 'interval must be at least 10ms' });
      })
      .meta({ description: `How often to look again (default ${formatDuration(DEFAULT_WAIT_INTERVAL_MS)}).`, pattern: DURATION_PATTERN })
      .optional(),
  })
  .superRefine((spec, ctx) => {
    const given = TARGETS.filter((k) => spec[k] !== undefined);
    if (given.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `wait needs exactly one of url, file or unit; ${given.length === 0 ? 'none was given' : `got ${given.join(' and ')}`}`,
      });
    }
  })
  .meta({
    description:
      'Waits, within the task\'s timeout, until a URL answers 2xx, a file exists, or a unit is active. Exactly one of url, file, unit.',
  });

type WaitSpec = z.output<typeof schema>;

export const waitKind = defineKind({
  kind: 'wait',
  summary: 'wait until a URL answers 2xx, a file exists, or a unit is active',
  schema,
  tagsByDefault: true,
  // `wait url URL`, `wait file PATH`, `wait unit NAME`
  tagForm: {
    parse(words) {
      const [form, target, ...rest] = words;
      if (!(TARGETS as readonly (string | undefined)[]).includes(form) || target === undefined || rest.length > 0) {
        return { reason: 'wait takes one condition: "wait url URL", "wait file PATH" or "wait unit NAME"' };
      }
      return { spec: { [form!]: target } };
    },
    write(spec) {
      const s = specFields(spec);
      const forms = TARGETS.filter((f) => f in s);
      if (forms.length !== 1) return { reason: 'wait needs exactly one of url, file or unit' };
      return { words: [forms[0]!, asWord(s[forms[0]!])], keys: [...TARGETS] };
    },
  },
  checkPolicy: (spec, rules) => (spec.unit ? unitPolicyProblems(spec.unit, rules) : []),
  async run(spec, ctx) {
    const every = spec.interval ? (parseDuration(spec.interval) as { ms: number }).ms : DEFAULT_WAIT_INTERVAL_MS;
    const started = Date.now();
    const what = spec.url ? `${spec.url} to answer 2xx` : spec.file ? `${spec.file} to exist` : `${spec.unit} to be active`;
    const seen = observer(ctx, what);
    if (spec.unit) {
      const systemd = await systemdFor(ctx);
      const onState = (s: UnitState) => seen(describeUnit(s).detail);
      await systemd
        .waitForUnit(spec.unit, (s) => s.activeState === 'active', { signal: ctx.signal, pollMs: every, onState })
        .catch((err: Error) => Promise.reject(ctx.signal.aborted ? stillWaiting(what, seen.last) : new TaskFailed(`waiting for ${what}: ${err.message}`)));
    } else {
      const look = spec.url ? () => lookAtUrl(spec.url!, ctx.host, ctx.signal) : () => lookAtFile(spec.file!);
      const done = await pollUntil(
        async () => {
          const o = await look();
          // A request cut short by the timeout saw nothing; the error reports what the wait saw before.
          if (ctx.signal.aborted && !o.done) throw stillWaiting(what, seen.last);
          seen(o.detail);
          return o.done || undefined;
        },
        { signal: ctx.signal, intervalMs: every },
      );
      if (!done) throw stillWaiting(what, seen.last);
    }
    ctx.log.info({ duration_ms: Date.now() - started }, `done waiting for ${what}: ${seen.last} after ${formatDuration(Date.now() - started)}`);
  },
});

/** Logs the first observation and every change, so the journal shows what the wait was stuck on. */
function observer(ctx: TaskContext, what: string): ((detail: string) => void) & { last: string } {
  const fn = Object.assign(
    (detail: string) => {
      if (detail !== fn.last) ctx.log.info(`waiting for ${what}: ${detail}`);
      fn.last = detail;
    },
    { last: '' },
  );
  return fn;
}

function stillWaiting(what: string, last: string): TaskFailed {
  return new TaskFailed(`still waiting for ${what}${last ? `; last seen: ${last}` : ''}`);
}

async function lookAtUrl(url: string, host: Pick<Host, 'http'>, signal: AbortSignal): Promise<{ done: boolean; detail: string }> {
  const a = await host.http.get(url, { signal, timeoutMs: REQUEST_TIMEOUT_MS });
  if ('error' in a) return { done: false, detail: a.error };
  // Through a proxy, a 502 or a 403 may be the proxy's own answer: the journal says which proxy it came through.
  return { done: a.status >= 200 && a.status < 300, detail: `HTTP ${a.status}${a.via ? ` through ${a.via}` : ''}` };
}

async function lookAtFile(path: string): Promise<{ done: boolean; detail: string }> {
  try {
    await stat(path);
    return { done: true, detail: 'exists' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { done: false, detail: code === 'ENOENT' ? 'does not exist' : (err as Error).message };
  }
}
