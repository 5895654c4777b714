import { statusJson, statusText } from '../report/status-view.js';
import { readState } from '../state/state-store.js';
import type { VerbContext } from './verb.js';

export async function run(ctx: VerbContext): Promise<number> {
  const loaded = await readState(ctx.stateDir);
  if (loaded.kind === 'corrupt') {
    process.stderr.write(`postjoin: state dir ${ctx.stateDir}: the state file is unreadable: ${loaded.reason}\n`);
    return 1;
  }
  const state = loaded.kind === 'ok' ? loaded.state : undefined;
  ctx.stdout.write(ctx.output === 'json' ? statusJson(state) : statusText(state));
  return !state || state.result === 'succeeded' ? 0 : 1;
}
