import { resolve } from 'node:path';
import { InvalidInput, formatProblem, type Problem } from '../base/errors.js';
import { UnreadableFile } from '../base/input-file.js';
import { defaultConfig, everyKindPolicy } from '../config/agent-config.js';
import { loadConfig } from '../config/load-config.js';
import { checkPlan } from '../plan/build-plan.js';
import type { Policy } from '../plan/policy.js';
import type { SourcedTask } from '../plan/sourced-task.js';
import { allTasks } from '../plan/task.js';
import { TAG_FILE_FORMS, type TagFileForm } from '../sources/tag-file.js';
import { readValidateInput, type ValidateInput } from './validate-input.js';
import type { VerbContext } from './verb.js';

interface FileReport {
  path: string;
  type?: 'tasks' | 'userdata' | 'tags';
  /** For instance tags: the form they were read in, and how many tags are not postjoin's. */
  form?: TagFileForm;
  ignoredTags?: number;
  tasks: number;
  valid: boolean;
}

/**
 * Offline checks for CI: every file is parsed and validated, then all of them together as one plan (names
 * must be unique across it). Every problem is listed, and every warning; the exit is 2 if there is a problem,
 * whatever the warnings.
 */
export async function run(ctx: VerbContext): Promise<number> {
  if (ctx.positionals.length === 0) throw new InvalidInput({ source: 'validate', message: 'give at least one FILE to check' });
  const policy = await policyFor(ctx);
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const files: FileReport[] = [];
  const all: SourcedTask[] = [];
  for (const arg of ctx.positionals) {
    const path = resolve(arg);
    const before = problems.length;
    let sourced: SourcedTask[] = [];
    let type: FileReport['type'];
    let tags: ValidateInput['tags'];
    try {
      const input = await readValidateInput(path);
      ({ tasks: sourced, type, tags } = input);
      problems.push(...(input.problems ?? []));
      warnings.push(...(input.warnings ?? []));
    } catch (err) {
      if (err instanceof InvalidInput) problems.push(...err.problems);
      else if (err instanceof UnreadableFile) problems.push({ source: `file:${path}`, message: `cannot read: ${err.message}` });
      else throw err;
    }
    all.push(...sourced);
    const tagReport = tags ? { form: tags.form, ignoredTags: tags.ignored } : {};
    files.push({ path, ...(type ? { type } : {}), ...tagReport, tasks: sourced.length, valid: problems.length === before });
  }
  const checked = checkPlan(all, policy);
  const tasks = checked.plan ? allTasks(checked.plan).length : 0;
  problems.push(...checked.problems);
  warnings.push(...checked.warnings);
  const mine = (source: string, path: string) =>
    source === `file:${path}` || source.startsWith(`file:${path}#`) || source.startsWith(`userdata:${path}`) || source === `tags:${path}` || source.startsWith(`tags:${path}#`);
  for (const f of files) if (problems.some((p) => mine(p.source, f.path))) f.valid = false;
  const valid = problems.length === 0;
  if (ctx.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ valid, tasks, files, problems, warnings }, null, 2)}\n`);
  } else {
    for (const f of files) {
      const what = `${f.tasks} task${f.tasks === 1 ? '' : 's'}${f.type === 'userdata' ? ', user data' : ''}${f.form ? tagSummary(f.form, f.ignoredTags ?? 0) : ''}`;
      ctx.stdout.write(`${f.valid ? 'ok     ' : 'invalid'}  ${f.path} (${what})\n`);
    }
    for (const p of problems) ctx.stdout.write(`${formatProblem(p)}\n`);
    for (const w of warnings) ctx.stdout.write(`warning: ${formatProblem(w)}\n`);
    const warned = warnings.length > 0 ? `; ${warnings.length} warning(s)` : '';
    ctx.stdout.write(valid ? `valid: ${tasks} task(s) in ${files.length} file(s)${warned}\n` : `${problems.length} problem(s) found${warned}\n`);
  }
  return valid ? 0 : 2;
}

/**
 * Offline, the node's policy is unknown: allow every kind from task files and user data, unless a config is
 * given to check against. Instance tags get the default policy of the tags source, as a node without a config
 * would apply it: tags are the source anyone with ec2:CreateTags can write.
 */
async function policyFor(ctx: VerbContext): Promise<Policy> {
  if (ctx.configGiven) return (await loadConfig(ctx.configPath, { allowPipe: true })).config.policy;
  return { ...everyKindPolicy(), tags: defaultConfig().policy.tags };
}

function tagSummary(form: TagFileForm, ignored: number): string {
  return `, instance tags as ${TAG_FILE_FORMS[form]}${ignored > 0 ? `; ${ignored} other tag${ignored === 1 ? '' : 's'} ignored` : ''}`;
}
