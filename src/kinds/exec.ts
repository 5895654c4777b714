import { z } from 'zod';
import { nonEmptyString } from '../base/fields.js';
import { quoted } from '../base/shown-text.js';
import { asWord, defineKind, specFields } from './kind.js';
import { runCommand } from './run-command.js';
import { literalWords, shellSyntaxIn, type ShellSyntax } from './shell-syntax.js';

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

const ADVICE: Record<ShellSyntax['what'], string> = {
  variable: '(no shell expands it); use a script task, or set the value in env',
  substitution: '(no shell runs it); use a script task',
  tilde: '(no shell expands "~" to a home directory); write the absolute path, or use a script task',
};

export const execKind = defineKind({
  kind: 'exec',
  summary: 'run a program with arguments, never through a shell',
  schema,
  tagsByDefault: false,
  // `exec PATH ARG…`: the program and its argv, word for word.
  tagForm: {
    parse: (words) => (words.length === 0 ? { reason: 'exec needs a program: "exec PATH ARG…"' } : { spec: { command: words[0], args: words.slice(1) } }),
    write(spec) {
      const s = specFields(spec);
      const args = Array.isArray(s.args) ? s.args.map(asWord) : [];
      return { words: [asWord(s.command), ...args], keys: ['command', 'args'] };
    },
  },
  warnings: (spec) =>
    literalWords(spec.command, spec.args).flatMap(({ path, word }) => {
      const found = shellSyntaxIn(word);
      return found ? [{ path, message: `exec passes ${quoted(found.text)} literally ${ADVICE[found.what]}` }] : [];
    }),
  run: (spec, ctx) => runCommand(spec.command, spec.args, ctx),
});
