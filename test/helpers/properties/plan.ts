// Properties of the task schema and the plan builder: src/base/yaml-documents.ts, task-document.ts,
// task-schema.ts, build-plan.ts (and each kind's schema through the registry).
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { parse } from 'yaml';
import type { Problem } from '../../../src/base/errors.js';
import { buildPlan } from '../../../src/plan/build-plan.js';
import { findJsonSyntaxError } from '../../../src/base/json-syntax.js';
import type { SourcedTask } from '../../../src/plan/sourced-task.js';
import { allTasks, isGroup, type Plan, type PlanStep } from '../../../src/plan/task.js';
import { tasksFromText } from '../../../src/plan/task-document.js';
import { everyKindPolicy } from '../../../src/config/agent-config.js';
import { fail, hasPathOrLine, onlyInvalidInput } from './checks.js';
import type { PropertyDef } from './harness.js';
import { editField, fieldEdit, mutate, mutations, spell, spelling, taskDocument, taskList, type Mutation, type Spelling, type TaskObject } from './tasks.js';

const LABEL = 'file:/etc/postjoin/tasks.d/10-fuzz.yaml';

/** A plan without where its tasks came from: what two spellings of one document must agree on. */
export function planShape(plan: Plan): unknown[] {
  const simple = (s: PlanStep): unknown => {
    if (isGroup(s)) return { name: s.name, kind: s.kind, onFailure: s.onFailure, concurrency: s.concurrency, tasks: s.tasks.map(simple) };
    const { origin: _o, source: _s, ...rest } = s;
    return rest;
  };
  return plan.steps.map(simple);
}

/** The plan of the object itself, as if a parser had produced exactly it: the oracle for every spelling. */
export function planOfObject(tasks: TaskObject[]): Plan {
  const sourced: SourcedTask[] = tasks.map((raw, i) => ({ source: 'file', origin: `${LABEL}#tasks[${i}]`, raw, locate: (p) => ({ source: LABEL, at: `tasks[${i}]${p.length ? `.${p.join('.')}` : ''}` }) }));
  return buildPlan(sourced, everyKindPolicy());
}

function planOfText(text: string, format: 'yaml' | 'json'): Plan {
  return buildPlan(tasksFromText(text, format, LABEL, 'file'), everyKindPolicy());
}

/**
 * Problems about a whole document (it is not a mapping, or its aliases expand past the limit) carry no path or
 * line by design: pointing at line 1 says nothing. Every other problem must name a path or a line.
 */
const WHOLE_DOCUMENT = /^(expected a task document |malformed YAML: Excessive alias count|a JSON file holds exactly one document)/;
const located = (p: Problem) => hasPathOrLine(p) || WHOLE_DOCUMENT.test(p.message);

export function readsBackAs(textIn: string, doc: unknown): boolean {
  try {
    return isDeepStrictEqual(parse(textIn.replace(/^\ufeff/, '')), doc);
  } catch {
    return false;
  }
}

export const planProperties = [
  {
    parser: 'plan',
    name: 'a valid document, however it is spelled, gives the plan of the object it spells',
    arbitrary: fc.tuple(taskList({ groups: true }), spelling),
    runs: 300,
    check([tasks, s]: [TaskObject[], Spelling]) {
      const want = planShape(planOfObject(tasks));
      const doc = taskDocument(tasks);
      const textIn = spell(doc, s);
      // The yaml library's own writer has quirks (a block literal of " " reads back as ""); such a text is not a
      // spelling of this document, whoever parses it.
      if (!readsBackAs(textIn, doc)) return;
      const got = onlyInvalidInput(() => planOfText(textIn, s.format), LABEL, located);
      if (!got.ok) fail(`a valid document was refused: ${got.err.message}\n--- text ---\n${textIn}`);
      if (!isDeepStrictEqual(planShape(got.value), want)) fail(`the spelled plan differs from the object's:\n${JSON.stringify(planShape(got.value))}\n${JSON.stringify(want)}\n--- text ---\n${textIn}`);
      if (allTasks(got.value).some((t) => !t.origin.startsWith(`${LABEL}#`))) fail('an origin does not name the file and a path');
    },
  } satisfies PropertyDef<[TaskObject[], Spelling]>,
  {
    parser: 'plan',
    name: 'any edit of a document gives a plan or InvalidInput, every problem naming the file and a path or line',
    arbitrary: fc.tuple(taskList({ groups: true }), spelling, mutations),
    runs: 400,
    check([tasks, s, ms]: [TaskObject[], Spelling, Mutation[]]) {
      onlyInvalidInput(() => planOfText(mutate(spell(taskDocument(tasks), s), ms), s.format), LABEL, located);
    },
  } satisfies PropertyDef<[TaskObject[], Spelling, Mutation[]]>,
  {
    parser: 'plan',
    name: 'any wrong value in any field is InvalidInput, never a crash, every problem located',
    arbitrary: fc.tuple(taskList({ groups: true }), fc.array(fieldEdit, { minLength: 1, maxLength: 3 }), spelling),
    runs: 400,
    check([tasks, edits, s]: [TaskObject[], { task: number; field: string; value: unknown }[], Spelling]) {
      const edited = edits.reduce(editField, tasks);
      onlyInvalidInput(() => planOfObject(edited), LABEL, located);
      let textIn: string;
      try {
        textIn = spell(taskDocument(edited), s);
      } catch {
        return; // a value YAML cannot write (e.g. a cycle) is not an input anyone can send
      }
      onlyInvalidInput(() => planOfText(textIn, s.format), LABEL, located);
    },
  } satisfies PropertyDef<[TaskObject[], { task: number; field: string; value: unknown }[], Spelling]>,
  {
    parser: 'plan',
    name: 'arbitrary text, as YAML or JSON, is a plan or InvalidInput naming the file and a line',
    arbitrary: fc.tuple(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.string({ unit: fc.constantFrom(...'{}[]:,"\'-#&*!|>?\n\t ab1'.split('')), maxLength: 200 })), fc.constantFrom('yaml' as const, 'json' as const)),
    runs: 1000,
    check([textIn, format]: [string, 'yaml' | 'json']) {
      onlyInvalidInput(() => planOfText(textIn, format), LABEL, located);
    },
  } satisfies PropertyDef<[string, 'yaml' | 'json']>,
  {
    parser: 'plan',
    name: 'the JSON error locator finds an error exactly when JSON.parse refuses the text',
    arbitrary: fc.oneof(
      fc.json({ maxDepth: 4 }).chain((j) => fc.tuple(fc.constant(j), mutations).map(([x, ms]) => mutate(x, ms))),
      fc.json({ maxDepth: 4 }),
      fc.string({ unit: fc.constantFrom(...'{}[]:,"\\ \n\t-+.0123456789eEtruefalsn\u0001'.split('')), maxLength: 40 }),
    ),
    runs: 3000,
    check(textIn: string) {
      let parses = true;
      try {
        JSON.parse(textIn);
      } catch {
        parses = false;
      }
      const e = findJsonSyntaxError(textIn);
      if (parses && e) fail(`JSON.parse accepts ${JSON.stringify(textIn)}, the locator says ${JSON.stringify(e)}`);
      if (!parses && !e) fail(`JSON.parse refuses ${JSON.stringify(textIn)}, the locator finds nothing`);
      if (e && (e.offset < 0 || e.offset > textIn.length)) fail(`offset ${e.offset} outside the text`);
    },
  } satisfies PropertyDef<string>,
] as const;
