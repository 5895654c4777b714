import { createLogger } from '../report/logger.js';
import { planJson, planText } from '../report/plan-view.js';
import { loadAgentConfig, loadPlan } from './load-plan.js';
import type { VerbContext } from './verb.js';

export async function run(ctx: VerbContext): Promise<number> {
  const log = createLogger({ fd: 2, level: ctx.logLevel });
  const config = await loadAgentConfig(ctx.configPath, log);
  const plan = await loadPlan(config, log);
  ctx.stdout.write(ctx.output === 'json' ? planJson(plan, ctx.values['show-secrets'] === true) : planText(plan));
  return 0;
}
