import { z } from 'zod';
import { ProblemList } from '../base/errors.js';
import { quoted } from '../base/shown-text.js';
import { formatPath, parseDocuments, type ParsedDocument, type PathSegment } from '../base/yaml-documents.js';
import { zodProblems } from '../base/zod-problems.js';
import type { SourcedTask } from './sourced-task.js';

export const API_VERSION = 'postjoin/v1alpha1';
export const TASK_LIST_KIND = 'TaskList';

/**
 * Parses the text of a task file or user-data part into tasks with their origins. Checks the envelope
 * (`apiVersion`, `kind`, `tasks`) here; each task's own fields are checked by the plan builder.
 * `label` names the input in errors and origins, e.g. `file:/etc/postjoin/tasks.d/10-x.yaml`.
 */
export function tasksFromText(text: string, format: 'yaml' | 'json', label: string, source: string): SourcedTask[] {
  return tasksFromDocuments(parseDocuments(text, format, label), label, source);
}

export function tasksFromDocuments(docs: ParsedDocument[], label: string, source: string): SourcedTask[] {
  const problems = new ProblemList();
  const out: SourcedTask[] = [];
  for (const doc of docs) {
    // The first document's paths read as the design shows them (`#tasks[2]`); later ones say which document.
    const prefix: PathSegment[] = doc.index === 0 ? [] : ['doc', doc.index];
    const at = (p: readonly PathSegment[]) => ({ source: label, at: formatPath([...prefix, ...p]) || undefined, line: doc.lineOf(p) });
    const value = doc.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      problems.add({ ...at([]), message: 'expected a task document (a mapping with apiVersion, kind and tasks)' });
      continue;
    }
    const checked = envelopeSchema.safeParse(value);
    if (!checked.success) problems.addAll(zodProblems(checked.error, { schema: envelopeSchema, input: value, locate: at }));
    const body = value as Record<string, unknown>;
    if (!Array.isArray(body.tasks)) continue;
    body.tasks.forEach((raw, i) => {
      out.push({
        source,
        origin: `${label}#${formatPath([...prefix, 'tasks', i])}`,
        raw,
        locate: (p) => at(['tasks', i, ...p]),
      });
    });
  }
  problems.throwIfAny();
  return out;
}

/** The envelope; `tasks` is checked task by task by the plan builder. A missing key is named by zodProblems. */
const envelopeSchema = z.strictObject({
  apiVersion: z.literal(API_VERSION, { error: (iss) => mismatch('apiVersion', API_VERSION, iss.input) }),
  kind: z.literal(TASK_LIST_KIND, { error: (iss) => mismatch('kind', TASK_LIST_KIND, iss.input) }),
  tasks: z.array(z.unknown(), { error: (iss) => (iss.input === undefined ? 'expected a list of tasks' : 'expected tasks to be a list') }),
});

function mismatch(key: string, want: string, got: unknown): string {
  return got === undefined ? `expected "${want}"` : `expected ${key} "${want}", got ${quoted(got)}`;
}

