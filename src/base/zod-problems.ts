import type { z } from 'zod';
import type { Problem } from './errors.js';
import { oneLine, quoted } from './shown-text.js';
import { formatPath, type PathSegment } from './yaml-documents.js';

/** Where a validated value came from: turns a path inside it into a located problem. */
export type Locate = (path: readonly PathSegment[]) => Pick<Problem, 'source' | 'at' | 'line'>;

/** Converts zod issues into our problem form, one problem per unknown key so each is named. */
export function zodProblems(error: z.ZodError, locate: Locate, prefix: readonly PathSegment[] = []): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) collect(issue as ZodIssueLike, [...prefix, ...(issue.path as PathSegment[])], locate, out);
  return out;
}

interface ZodIssueLike {
  code: string;
  message: string;
  path: PropertyKey[];
  keys?: string[];
  expected?: string;
  values?: unknown[];
  errors?: ZodIssueLike[][];
}

function collect(issue: ZodIssueLike, path: PathSegment[], locate: Locate, out: Problem[]): void {
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    for (const key of issue.keys) out.push({ ...locate([...path, key]), message: `unknown key ${quoted(key)}` });
    return;
  }
  out.push({ ...locate(path), message: cleanMessage(issue) });
}

function cleanMessage(issue: ZodIssueLike): string {
  if (issue.code === 'invalid_value' && issue.values) {
    return `expected one of ${issue.values.map((v) => quoted(v)).join(', ')}`;
  }
  return oneLine(issue.message.replace(/^Invalid input: /, ''));
}

export { formatPath };
