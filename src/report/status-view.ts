import { formatDuration } from '../base/duration.js';
import type { RunState } from '../state/run-state.js';
import { textTable } from './text-table.js';

/** `status --output json` (design §3): a fixed shape other tools parse. */
export function statusJson(state: RunState | undefined): string {
  if (!state) return `${JSON.stringify({ result: 'none', tasks: [] })}\n`;
  const out = {
    instanceId: state.instanceId ?? null,
    bootId: state.bootId ?? null,
    startedAt: state.startedAt,
    finishedAt: state.finishedAt ?? null,
    result: state.result,
    ...(state.message ? { message: state.message } : {}),
    ...(state.report ? { report: state.report } : {}),
    tasks: state.tasks.map((t) => ({
      name: t.name,
      source: t.source,
      kind: t.kind,
      status: t.status,
      attempts: t.attempts,
      durationMs: t.durationMs ?? null,
      exitCode: t.exitCode ?? null,
      ...(t.group ? { group: t.group } : {}),
      ...(t.startedAt ? { startedAt: t.startedAt } : {}),
      ...(t.error ? { error: t.error } : {}),
    })),
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

export function statusText(state: RunState | undefined): string {
  if (!state) return 'no run recorded\n';
  const head = [
    `result:    ${state.result}${state.exitCode !== undefined ? ` (exit ${state.exitCode})` : ''}`,
    `started:   ${state.startedAt}`,
    `finished:  ${state.finishedAt ?? '-'}`,
    `instance:  ${state.instanceId ?? '-'}`,
    `boot:      ${state.bootId ?? '-'}`,
    ...(state.message ? [`message:   ${state.message}`] : []),
    ...(state.report ? [`report:    ${reportText(state.report)}`] : []),
  ];
  if (state.tasks.length === 0) return `${head.join('\n')}\n`;
  const rows = [['NAME', 'KIND', 'STATUS', 'ATTEMPTS', 'DURATION', 'EXIT', 'WHEN']];
  for (const t of state.tasks) {
    rows.push([
      t.group ? `  ${t.name}` : t.name,
      t.kind,
      t.status,
      String(t.attempts),
      t.durationMs === undefined ? '-' : formatDuration(t.durationMs),
      t.exitCode === undefined || t.exitCode === null ? '-' : String(t.exitCode),
      t.startedAt ?? '-',
    ]);
  }
  const errors = state.tasks.filter((t) => t.error && t.status !== 'succeeded').map((t) => `  ${t.name}: ${t.error}`);
  return `${head.join('\n')}\n\n${textTable(rows)}\n${errors.length ? `\nerrors:\n${errors.join('\n')}\n` : ''}`;
}

/** Whether the Node got the result: made (and after how many tries), or pending since when, what, and why. */
function reportText(r: NonNullable<RunState['report']>): string {
  const what = `${r.condition}=${r.status}/${r.reason} on Node ${r.node}`;
  const tries = r.tries ?? 1;
  if (r.made) {
    const late = r.pendingSince ? ` (try ${tries}, pending since ${r.pendingSince})` : '';
    return `made at ${r.at}: ${what}${late}${r.error ? ` (but ${r.error})` : ''}`;
  }
  // Written before reports were kept pending: nothing here can send it; the next run reports again.
  if (r.message === undefined || r.missing === undefined) return `not made: ${what}: ${r.error ?? 'unknown error'}`;
  return (
    `pending since ${r.pendingSince ?? r.at}: ${what}; not on the Node yet: ${r.missing.join(', ')}; ` +
    `${tries} ${tries === 1 ? 'try' : 'tries'}, the last at ${r.at}: ${r.error ?? 'unknown error'}\n` +
    `           postjoin-report.service tries again; postjoin report sends it now`
  );
}
