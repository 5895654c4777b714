import { InvalidInput, formatProblem } from '../base/errors.js';
import { StopReason, Stopped } from '../base/stop-reason.js';
import type { TaskRecord } from '../state/run-state.js';

/**
 * What one run reports to its Node (design §4, issue 12 point 5), and the words for it. Pure: the condition,
 * the label value and the event are all derived here, so they always agree.
 */
export type Outcome =
  | { reason: 'Succeeded'; counts: Record<string, number> }
  | { reason: 'TaskFailed'; task?: string; source?: string; error: string }
  | { reason: 'InvalidPlan'; first: string; count: number }
  | { reason: 'SourceError' | 'NotReady' | 'Stopped'; message: string };

export type ReportReason = Outcome['reason'] | 'Running';

export interface Described {
  status: 'True' | 'False';
  reason: ReportReason;
  message: string;
  /** The label's value; only the final report sets it. */
  label: 'succeeded' | 'failed';
  eventType: 'Normal' | 'Warning';
  /** The event's reason: `kubectl describe node` lists it among the kubelet's, so it names postjoin. */
  eventReason: string;
}

/**
 * The API server's limit on an event's message (NoteLengthLimit, 1024, for events with eventTime; the kubelet's kind
 * has none, but a condition message that long is already past reading in `kubectl get`).
 */
export const MAX_MESSAGE_BYTES = 1024;

export function describeRunning(detail?: string): Described {
  return d('False', 'Running', `postjoin is running the node's tasks${detail ? `: ${detail}` : ''}`);
}

export function describeOutcome(o: Outcome): Described {
  switch (o.reason) {
    case 'Succeeded':
      return d('True', 'Succeeded', `all tasks done: ${countsText(o.counts)}`);
    case 'TaskFailed': {
      const task = o.task ? `task "${o.task}"${o.source ? ` (${o.source})` : ''} failed: ` : '';
      return d('False', 'TaskFailed', `${task}${o.error}`);
    }
    case 'InvalidPlan':
      return d('False', 'InvalidPlan', `invalid input, no task was started: ${o.count} problem(s); the first: ${o.first}`);
    case 'SourceError':
      return d('False', 'SourceError', `a task source could not be read, no task was started: ${o.message}`);
    case 'NotReady':
      return d('False', 'NotReady', `the node was not ready in time, no task was started: ${o.message}`);
    case 'Stopped':
      return d('False', 'Stopped', `the run was stopped: ${o.message}`);
  }
}

function d(status: 'True' | 'False', reason: ReportReason, message: string): Described {
  return {
    status,
    reason,
    message: clip(message),
    label: status === 'True' ? 'succeeded' : 'failed',
    eventType: status === 'True' || reason === 'Running' ? 'Normal' : 'Warning',
    eventReason: `Postjoin${reason}`,
  };
}

function countsText(counts: Record<string, number>): string {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  return parts.length ? parts.join(', ') : 'no tasks';
}

/** Cuts text to MAX_MESSAGE_BYTES of UTF-8, never inside a character. */
export function clip(text: string, max = MAX_MESSAGE_BYTES): string {
  if (Buffer.byteLength(text) <= max) return text;
  let out = text.slice(0, max);
  while (Buffer.byteLength(`${out}…`) > max) out = out.slice(0, -1);
  return `${out}…`;
}

export interface RunEnd {
  exitCode: number;
  /** The run's message (the state file's `message`). */
  message?: string;
  /** The error that ended the run before the tasks, if one did (InvalidInput for exit 2). */
  error?: unknown;
  /** The state's task rows: the failed one is named in TaskFailed. */
  tasks?: readonly TaskRecord[];
  counts?: Record<string, number>;
  /** The run's stop signal: a SIGTERM/SIGINT makes a failed outcome Stopped, unless it was an invalid plan or a source error. */
  stop?: AbortSignal;
}

/** The outcome of a finished run, from what `run` has at its end. */
export function outcomeOf(end: RunEnd): Outcome {
  const message = end.message ?? `exit ${end.exitCode}`;
  // Exits 2 and 4 first: with reporting on they wait for readiness before they are reported, and a stop during
  // that wait does not change what went wrong (nor their exit code).
  switch (end.exitCode) {
    case 0:
      return { reason: 'Succeeded', counts: end.counts ?? {} };
    case 2: {
      const problems = end.error instanceof InvalidInput ? end.error.problems : [];
      return { reason: 'InvalidPlan', first: problems[0] ? formatProblem(problems[0]) : message, count: Math.max(1, problems.length) };
    }
    case 4:
      return { reason: 'SourceError', message };
  }
  const reason: unknown = end.stop?.aborted ? end.stop.reason : undefined;
  if (reason instanceof StopReason && reason.kind === 'stopped') return { reason: 'Stopped', message };
  // A stop before the tasks (SIGTERM or the run deadline during IMDS, EC2 or readiness) ends the run as Stopped.
  if (end.error instanceof Stopped) return { reason: 'Stopped', message };
  switch (end.exitCode) {
    case 3:
      return { reason: 'NotReady', message };
    default: {
      // A failed parallel group: its failed member is the task to name.
      const failed = end.tasks?.find((t) => t.status === 'failed' && t.group) ?? end.tasks?.find((t) => t.status === 'failed');
      // The run deadline between two tasks: nothing failed, the run was stopped.
      if (!failed && reason instanceof StopReason) return { reason: 'Stopped', message };
      if (!failed) return { reason: 'TaskFailed', error: message };
      return { reason: 'TaskFailed', task: failed.name, source: failed.source, error: failed.error ?? message };
    }
  }
}
