import { z } from 'zod';
import { unitName } from '../base/unit-name.js';
import type { Systemd } from '../host/systemd/systemd.js';
import { describeUnit, type UnitState } from '../host/systemd/unit-state.js';
import { TaskFailed, asWord, defineKind, specFields, type TaskContext } from './kind.js';
import { systemdFor, unitPolicyProblems } from './systemd-access.js';

const ACTIONS = ['start', 'restart', 'stop', 'enable-now'] as const;

const schema = z
  .strictObject({
    name: unitName('unit.name'),
    action: z.enum(ACTIONS),
  })
  .meta({
    description:
      'Starts, restarts, stops or enables-and-starts a systemd unit over D-Bus, waits for the job to finish and checks the unit\'s resulting state.',
  });

type UnitSpec = z.output<typeof schema>;

export const unitKind = defineKind({
  kind: 'unit',
  summary: 'start, restart, stop or enable-now a systemd unit, and check the state it ends in',
  schema,
  tagsByDefault: true,
  // `unit ACTION NAME`
  tagForm: {
    parse(words) {
      if (words.length !== 2) return { reason: `unit takes an action and a unit name: "unit ACTION NAME", got ${words.length} word(s)` };
      return { spec: { action: words[0], name: words[1] } };
    },
    write(spec) {
      const s = specFields(spec);
      return { words: [asWord(s.action), asWord(s.name)], keys: ['name', 'action'] };
    },
    // checkPolicy below refuses a unit task from tags unless policy.units names the unit.
    note: (spec) =>
      `is a unit task: the node runs it only where its policy.units names ${asWord(specFields(spec).name)} (empty policy.units refuses every unit task from tags)`,
  },
  checkPolicy(spec, rules, source) {
    // Whoever can tag the instance must not be able to stop kubelet.service (design §4): from tags, "empty =
    // any unit" does not hold; only units policy.units names may be driven.
    if (source === 'tags' && rules.units.length === 0) {
      return [`unit "${spec.name}": a unit task from instance tags is refused while policy.units is empty; list the units tags may drive in policy.units`];
    }
    return unitPolicyProblems(spec.name, rules);
  },
  async run(spec, ctx) {
    const systemd = await systemdFor(ctx);
    if (spec.action === 'enable-now') await enable(systemd, spec, ctx);
    const action = spec.action === 'enable-now' ? 'start' : spec.action;
    const job = await systemd.runJob(action, spec.name, ctx.signal);
    if (job.result !== 'done') {
      const state = await systemd.unitState(spec.name, ctx.signal).catch(() => undefined);
      throw new TaskFailed(`${action} ${spec.name}: the job ended "${job.result}"${state ? `; the unit is ${describeUnit(state).detail}` : ''}${hint(spec.name)}`);
    }
    const state = await settled(systemd, spec.name, ctx);
    // After a start, inactive/dead is a oneshot (or a service) that ran and exited cleanly: the job said "done".
    const expected = action === 'stop' ? ['inactive', 'failed'] : ['active', 'reloading', 'inactive'];
    if (!expected.includes(state.activeState)) {
      throw new TaskFailed(`${action} ${spec.name}: the job finished, but the unit is ${describeUnit(state).detail}${action === 'stop' ? '' : hint(spec.name)}`);
    }
    ctx.log.info({ unit: spec.name, active_state: state.activeState, sub_state: state.subState }, `${spec.action} ${spec.name}: ${state.activeState}/${state.subState}`);
  },
});

async function enable(systemd: Systemd, spec: UnitSpec, ctx: TaskContext): Promise<void> {
  const r = await systemd.enableUnitFiles([spec.name], ctx.signal);
  if (!r.carriesInstallInfo) {
    // systemctl enable --now says the same and still starts the unit.
    ctx.log.warn({ unit: spec.name }, `${spec.name} has no [Install] section, so enabling it changes nothing; starting it anyway`);
  } else if (r.changes.length > 0) {
    ctx.log.info({ unit: spec.name, changes: r.changes }, `enabled ${spec.name}: ${r.changes.map((c) => `${c.type} ${c.file}`).join(', ')}`);
  }
  await systemd.reload(ctx.signal);
}

/**
 * The state once the unit stops moving. A finished job normally leaves a final state; a service that died and
 * is waiting to be restarted (activating/auto-restart) counts as failed rather than something to wait for.
 */
async function settled(systemd: Systemd, name: string, ctx: TaskContext): Promise<UnitState> {
  const moving = (s: UnitState) => ['activating', 'deactivating', 'reloading'].includes(s.activeState) && s.subState !== 'auto-restart';
  const state = await systemd.unitState(name, ctx.signal);
  if (!moving(state)) return checkRestarting(state, name);
  return checkRestarting(await systemd.waitForUnit(name, (s) => !moving(s), { signal: ctx.signal }), name);
}

function checkRestarting(s: UnitState, name: string): UnitState {
  if (s.subState === 'auto-restart') throw new TaskFailed(`${name} failed and is waiting to be restarted (${describeUnit(s).detail})${hint(name)}`);
  return s;
}

function hint(name: string): string {
  return `; see journalctl -u ${name}`;
}
