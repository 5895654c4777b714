import { z } from 'zod';
import { quoted } from './shown-text.js';

/** The unit types systemd knows. The D-Bus API, unlike systemctl, never adds `.service` for you. */
export const UNIT_TYPES = ['service', 'socket', 'target', 'timer', 'mount', 'automount', 'path', 'slice', 'scope', 'swap', 'device'] as const;

const PREFIX = /^[A-Za-z0-9:_.\\-]+$/;

/** Why `name` is not a unit systemd could start, or undefined if it is one (systemd's unit_name_is_valid). */
export function unitNameProblem(name: string): string | undefined {
  if (name === '') return 'the unit name is empty';
  if (name.length > 255) return 'a unit name is at most 255 characters';
  const dot = name.lastIndexOf('.');
  const type = dot > 0 ? name.slice(dot + 1) : '';
  if (!(UNIT_TYPES as readonly string[]).includes(type)) {
    return /^[A-Za-z0-9:_.\\@-]+$/.test(name) && !type
      ? `${quoted(name)} has no unit type; write the full name, e.g. ${quoted(`${name}.service`)}`
      : `${quoted(name)} is not a unit name: it must end in .${UNIT_TYPES.slice(0, 3).join(', .')} or another unit type`;
  }
  const stem = name.slice(0, dot);
  const at = stem.indexOf('@');
  const prefix = at === -1 ? stem : stem.slice(0, at);
  const instance = at === -1 ? undefined : stem.slice(at + 1);
  if (!prefix || !PREFIX.test(prefix) || (instance !== undefined && !PREFIX.test(instance))) {
    if (instance === '') return `${quoted(name)} is a template; name an instance, e.g. ${quoted(`${prefix}@1.${type}`)}`;
    return `${quoted(name)} is not a unit name: only letters, digits and ":-_.\\" are allowed, plus one "@" before an instance`;
  }
  return undefined;
}

export const unitName = (what: string) =>
  z
    .string({ error: `expected ${what} as a unit name such as "kubelet.service"` })
    .superRefine((name, ctx) => {
      const problem = unitNameProblem(name);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .meta({ description: 'A full systemd unit name, such as "amazon-cloudwatch-agent.service".' });
