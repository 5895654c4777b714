import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { runCommand } from './run-command.js';
import { defineKind } from './task-kind.js';

const schema = z
  .string({ error: 'expected the script body as a string' })
  .min(1, 'the script body is empty')
  .meta({ description: 'A bash script body, run with /bin/bash -euo pipefail from a private temporary file.' });

export const scriptKind = defineKind({
  kind: 'script',
  summary: 'run a bash script body with -euo pipefail',
  schema,
  async run(body, ctx) {
    // A private 0700 directory (mkdtemp) and an exclusive 0600 file: nobody else can swap the script
    // between writing and running it.
    const dir = await mkdtemp(join(tmpdir(), 'postjoin-script-'));
    try {
      const file = join(dir, `${ctx.name}.sh`);
      await writeFile(file, body, { mode: 0o600, flag: 'wx' });
      return await runCommand('/bin/bash', ['-euo', 'pipefail', file], ctx, 'script');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
});
