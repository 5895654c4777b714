import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineKind } from './kind.js';
import { runCommand } from './run-command.js';

const schema = z
  .string({ error: 'expected the script body as a string' })
  .min(1, 'the script body is empty')
  // bash refuses a script file that holds a NUL (exit 126 at run time); say so at plan time, naming where but
  // never quoting the body, which may hold secrets.
  .superRefine((body, ctx) => {
    const at = body.indexOf('\0');
    if (at < 0) return;
    const before = body.slice(0, at);
    const line = before.split('\n').length;
    const column = [...before.slice(before.lastIndexOf('\n') + 1)].length + 1;
    ctx.addIssue({ code: 'custom', message: `the script body holds a NUL character (line ${line} of the body, character ${column}); bash refuses such a script` });
  })
  .meta({ description: 'A bash script body, run with /bin/bash -euo pipefail from a private temporary file. It may not hold a NUL.' });

export const scriptKind = defineKind({
  kind: 'script',
  summary: 'run a bash script body with -euo pipefail',
  schema,
  tagsByDefault: false,
  // `script BASE64`: one word, so the body's own quotes and spaces need no escaping in a tag.
  tagForm: {
    parse(words) {
      if (words.length !== 1) return { reason: 'script takes one word, the base64 of the script body: "script BASE64"' };
      const body = decodeBase64Body(words[0]!);
      return body === undefined ? { reason: 'script: the body is not valid base64' } : { spec: body };
    },
    write: (spec) => (typeof spec === 'string' ? { words: [Buffer.from(spec, 'utf8').toString('base64')], keys: [] } : { reason: 'script must be a string' }),
  },
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

function decodeBase64Body(b64: string): string | undefined {
  if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return undefined;
  const bytes = Buffer.from(b64, 'base64');
  try {
    // ignoreBOM: a body that starts with U+FEFF keeps it; by default the decoder drops it and changes the script.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
