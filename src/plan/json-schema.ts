import { z } from 'zod';
import { taskKinds } from '../kinds/registry.js';
import { API_VERSION, TASK_LIST_KIND } from './task-document.js';
import { commonFields } from './task-schema.js';

/**
 * The task document as JSON Schema, for editors (`# yaml-language-server: $schema=...`). Built from the same
 * zod schemas the agent validates with, so the two cannot drift.
 */
export function taskDocumentJsonSchema(): Record<string, unknown> {
  const simple = taskKinds.map((k) => z.strictObject({ ...commonFields, [k.kind]: k.schema }).meta({ title: `${k.kind} task`, description: k.summary }));
  const member = z.union(simple as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]);
  const group = z
    .strictObject({
      name: commonFields.name,
      onFailure: commonFields.onFailure,
      parallel: z.strictObject({ concurrency: z.int().min(1).max(64).default(4), tasks: z.array(member).min(1) }),
    })
    .meta({ title: 'parallel group', description: 'One step in the order; its members run concurrently.' });
  const doc = z
    .strictObject({
      apiVersion: z.literal(API_VERSION),
      kind: z.literal(TASK_LIST_KIND),
      tasks: z.array(z.union([...simple, group] as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]])),
    })
    .meta({ title: 'postjoin TaskList', description: 'Tasks postjoin runs after the node has joined the cluster.' });
  return z.toJSONSchema(doc, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
