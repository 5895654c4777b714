import { z } from 'zod';
import { nonEmptyString } from '../base/fields.js';
import { runCommand } from './run-command.js';
import { defineKind } from './task-kind.js';

const schema = z
  .strictObject({
    command: nonEmptyString('exec.command').refine((c) => !c.includes('\0'), 'exec.command must not contain NUL'),
    args: z
      .array(
        z.string({ error: 'expected a list of strings' }).refine((a) => !a.includes('\0'), 'an argument cannot contain a NUL character'),
        { error: 'expected a list of strings' },
      )
      .default([]),
  })
  .meta({ description: 'Runs a program with an argument vector. Never through a shell.' });

export const execKind = defineKind({
  kind: 'exec',
  summary: 'run a program with arguments, never through a shell',
  schema,
  run: (spec, ctx) => runCommand(spec.command, spec.args, ctx),
});
