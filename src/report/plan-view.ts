import { formatDuration } from '../base/duration.js';
import { kindNamed } from '../kinds/registry.js';
import { isGroup, type Plan, type PlanStep, type SimpleTask } from '../plan/task.js';
import { textTable } from './text-table.js';

/**
 * The normalized task as `plan --output json` prints it (design §3). Secrets — env values and file
 * contents — are replaced unless asked for, because plan output ends up in CI logs and tickets.
 */
export function normalizedStep(step: PlanStep, showSecrets: boolean): Record<string, unknown> {
  if (isGroup(step)) {
    return {
      name: step.name,
      kind: 'parallel',
      source: step.origin,
      onFailure: step.onFailure,
      parallel: { concurrency: step.concurrency, tasks: step.tasks.map((t) => normalizedTask(t, showSecrets)) },
    };
  }
  return normalizedTask(step, showSecrets);
}

function normalizedTask(t: SimpleTask, showSecrets: boolean): Record<string, unknown> {
  const kind = kindNamed(t.kind);
  const spec = showSecrets || !kind?.redact ? t.spec : kind.redact(t.spec);
  return {
    name: t.name,
    kind: t.kind,
    source: t.origin,
    timeout: formatDuration(t.timeoutMs),
    retries: t.retries,
    retryDelay: formatDuration(t.retryDelayMs),
    onFailure: t.onFailure,
    once: t.once,
    ...(t.env ? { env: showSecrets ? t.env : Object.fromEntries(Object.keys(t.env).map((k) => [k, '<redacted>'])) } : {}),
    ...(t.cwd ? { cwd: t.cwd } : {}),
    [t.kind]: spec,
  };
}

export function planJson(plan: Plan, showSecrets: boolean): string {
  return `${JSON.stringify({ tasks: plan.steps.map((s) => normalizedStep(s, showSecrets)) }, null, 2)}\n`;
}

export function planText(plan: Plan): string {
  if (plan.steps.length === 0) return 'The plan is empty: no source has tasks.\n';
  const rows: string[][] = [['#', 'NAME', 'KIND', 'ONCE', 'TIMEOUT', 'SOURCE']];
  plan.steps.forEach((s, i) => {
    if (isGroup(s)) {
      rows.push([`${i + 1}`, s.name, `parallel(${s.concurrency})`, '', '', s.origin]);
      s.tasks.forEach((m, j) => rows.push([`${i + 1}.${j + 1}`, m.name, m.kind, m.once ? 'yes' : 'no', formatDuration(m.timeoutMs), m.origin]));
    } else {
      rows.push([`${i + 1}`, s.name, s.kind, s.once ? 'yes' : 'no', formatDuration(s.timeoutMs), s.origin]);
    }
  });
  return `${textTable(rows)}\n`;
}
