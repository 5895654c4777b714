import type { KubernetesConfig } from '../config/agent-config.js';
import type { ReportPart, ReportRecord } from '../state/run-state.js';
import type { Described } from './cluster-outcome.js';

/**
 * The record of a report to the Node in state.json, and what is still pending in it. Pure: `run` writes the first
 * record (its final report), `postjoin report` reads what is missing and writes one record per try. A report is
 * made once the condition and the label are on the Node (what node-readiness-controller and fleet alerting read);
 * an event is a record of the moment, sent with the first delivery that can send it, and never alone.
 */

/** What one write of the final report did (cluster-writer's WriteResult; the writer itself is loaded lazily). */
export interface WriteOutcome {
  /** The condition was written, or was not asked for. */
  made: boolean;
  errors: string[];
  label?: boolean;
  event?: boolean;
}

export type ReportNames = Pick<KubernetesConfig, 'condition' | 'label' | 'events'>;

const isMade = (missing: readonly ReportPart[]) => !missing.includes('condition') && !missing.includes('label');

/** The run's own final report: its first try. */
export function firstRecord(desc: Described, w: WriteOutcome, names: ReportNames, node: string, at: Date, durationMs: number): ReportRecord {
  const missing: ReportPart[] = [];
  if (!w.made) missing.push('condition');
  if (names.label && w.label !== true) missing.push('label');
  if (names.events && w.event !== true) missing.push('event');
  const made = isMade(missing);
  return {
    made,
    at: at.toISOString(),
    node,
    condition: names.condition,
    status: desc.status,
    reason: desc.reason,
    durationMs,
    ...(w.errors.length ? { error: w.errors.join('; ') } : {}),
    message: desc.message,
    ...(names.label ? { label: { key: names.label, value: desc.label } } : {}),
    ...(names.events ? { event: { type: desc.eventType, reason: desc.eventReason } } : {}),
    missing,
    ...(made ? {} : { pendingSince: at.toISOString() }),
    tries: 1,
  };
}

/** Why nothing is to be sent, or what is. */
export type Pending =
  | { kind: 'none'; why: string }
  | { kind: 'pending'; parts: ReadonlySet<ReportPart>; desc: Described; eventTime?: Date; record: ReportRecord };

/**
 * What `postjoin report` sends for this record, with today's config: the missing parts it still names (a label
 * or events switched off since are not sent). Nothing when the report was made, or when the record is from a
 * version that did not keep what it would send.
 */
export function pendingOf(r: ReportRecord, names: ReportNames): Pending {
  if (r.made) return { kind: 'none', why: `the last run's report to Node ${r.node} was made at ${r.at}` };
  if (r.message === undefined || r.missing === undefined) {
    return { kind: 'none', why: "the last run's report was not made, but was written by an older postjoin without what it would send; the next run reports again" };
  }
  const parts = new Set(r.missing.filter((p) => p === 'condition' || (p === 'label' && names.label) || (p === 'event' && names.events)));
  const failed = r.status === 'True' ? 'succeeded' : 'failed';
  const desc: Described = {
    status: r.status,
    reason: r.reason as Described['reason'],
    message: r.message,
    label: r.label?.value ?? failed,
    eventType: r.event?.type ?? (r.status === 'True' ? 'Normal' : 'Warning'),
    eventReason: r.event?.reason ?? `Postjoin${r.reason}`,
  };
  const ended = r.endedAt ? new Date(r.endedAt) : undefined;
  return { kind: 'pending', parts, desc, record: r, ...(ended && !Number.isNaN(ended.getTime()) ? { eventTime: ended } : {}) };
}

/** The record after one more try of `postjoin report`, which sent `parts` with today's names. */
export function afterTry(p: Extract<Pending, { kind: 'pending' }>, w: WriteOutcome, names: ReportNames, at: Date, durationMs: number): ReportRecord {
  const wrote = (part: ReportPart) => p.parts.has(part) && (part === 'condition' ? w.made : w[part] === true);
  // A part today's config no longer names is not wanted any more: it leaves `missing` without being written.
  const missing = (p.record.missing ?? []).filter((part) => p.parts.has(part) && !wrote(part));
  const { error: _lastError, ...rest } = p.record;
  const made = isMade(missing);
  return {
    ...rest,
    made,
    at: at.toISOString(),
    condition: names.condition,
    ...(names.label && rest.label ? { label: { key: names.label, value: rest.label.value } } : {}),
    durationMs,
    ...(w.errors.length ? { error: w.errors.join('; ') } : {}),
    missing,
    pendingSince: rest.pendingSince ?? rest.at,
    tries: (rest.tries ?? 1) + 1,
  };
}

/** "postjoin.io/Ready=True/Succeeded, label postjoin.io/result=succeeded, event PostjoinSucceeded": what a try wrote. */
export function partsText(parts: Iterable<ReportPart>, p: Extract<Pending, { kind: 'pending' }>, names: ReportNames): string {
  const text: Record<ReportPart, string> = {
    condition: `${names.condition}=${p.desc.status}/${p.desc.reason}`,
    label: `label ${names.label ?? ''}=${p.desc.label}`,
    event: `event ${p.desc.eventReason}`,
  };
  return [...parts].map((part) => text[part]).join(', ') || 'nothing new';
}
