import { InvalidInput, type Problem } from '../base/errors.js';
import { policyProblems, type Policy } from './policy.js';
import type { SourcedTask } from './sourced-task.js';
import { validateStep } from './task-schema.js';
import { allTasks, isGroup, type Plan, type PlanStep } from './task.js';

/**
 * Turns every source's tasks, in source order, into one validated plan. All problems are collected and
 * thrown together: one invalid task anywhere means nothing runs (exit 2), and the user sees every error.
 * Warnings never stop a plan; they come with it.
 */
export function buildPlan(sourced: readonly SourcedTask[], policy: Policy): Plan {
  const { plan, problems } = checkPlan(sourced, policy);
  if (!plan) throw new InvalidInput(problems);
  return plan;
}

/** The plan when it is valid, every problem, and every warning, also those of a plan that is not (for `validate`). */
export function checkPlan(sourced: readonly SourcedTask[], policy: Policy): { plan?: Plan; problems: Problem[]; warnings: Problem[] } {
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const steps: PlanStep[] = [];
  for (const st of sourced) {
    const step = validateStep(st, problems, false, warnings);
    if (step) steps.push(step);
  }
  const plan: Plan = { steps, warnings };
  problems.push(...duplicateNames(plan));
  for (const task of allTasks(plan)) problems.push(...policyProblems(task, policy));
  return problems.length > 0 ? { problems, warnings } : { plan, problems, warnings };
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
