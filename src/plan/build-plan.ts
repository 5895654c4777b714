import { InvalidInput, type Problem } from '../base/errors.js';
import { policyProblems, type Policy } from './policy.js';
import type { SourcedTask } from './sourced-task.js';
import { validateStep } from './task-schema.js';
import { allTasks, isGroup, type Plan, type PlanStep } from './task.js';

/**
 * Turns every source's tasks, in source order, into one validated plan. All problems are collected and
 * thrown together: one invalid task anywhere means nothing runs (exit 2), and the user sees every error.
 */
export function buildPlan(sourced: readonly SourcedTask[], policy: Policy): Plan {
  const problems: Problem[] = [];
  const steps: PlanStep[] = [];
  for (const st of sourced) {
    const step = validateStep(st, problems);
    if (step) steps.push(step);
  }
  const plan: Plan = { steps };
  problems.push(...duplicateNames(plan));
  for (const task of allTasks(plan)) problems.push(...policyProblems(task, policy));
  if (problems.length > 0) throw new InvalidInput(problems);
  return plan;
}

function duplicateNames(plan: Plan): Problem[] {
  const seen = new Map<string, string>();
  const out: Problem[] = [];
  const claim = (name: string, origin: string) => {
    const first = seen.get(name);
    if (first) out.push({ source: origin, message: `task name "${name}" is already used by ${first}; names are unique across the plan` });
    else seen.set(name, origin);
  };
  for (const step of plan.steps) {
    claim(step.name, step.origin);
    if (isGroup(step)) for (const m of step.tasks) claim(m.name, m.origin);
  }
  return out;
}
