import { createLogger } from '../report/logger.js';
import { planJson, planText } from '../report/plan-view.js';
import { hostFor, loadAgentConfig, loadPlan } from './load-plan.js';
import type { VerbContext } from './verb.js';

export async function run(ctx: VerbContext): Promise<number> {
  const log = createLogger({ fd: 2, level: ctx.logLevel });
  const config = await loadAgentConfig(ctx.configPath, log);
  const host = hostFor(config, log);
  try {
    const plan = await loadPlan(config, log, host);
    ctx.stdout.write(ctx.output === 'json' ? planJson(plan, ctx.values['show-secrets'] === true) : planText(plan));
  } finally {
    await host.close();
  }
  return 0;
}
