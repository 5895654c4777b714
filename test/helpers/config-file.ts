// An agent config written to a file and loaded as the agent loads it: what the config tests share.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidInput, formatProblem } from '../../src/base/errors.js';
import { loadConfig } from '../../src/config/load-config.js';

/** A fresh config.yaml holding `text`; returns its path. */
export async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-config-'));
  const p = join(dir, 'config.yaml');
  await writeFile(p, text);
  return p;
}

/** Every problem loading `text` as the config gives, as the user reads it, with the file's path as CONFIG; [] if it loads. */
export async function problemsOf(text: string): Promise<string[]> {
  const p = await configFile(text);
  try {
    await loadConfig(p);
  } catch (err) {
    if (err instanceof InvalidInput) return err.problems.map(formatProblem).map((m) => m.replace(p, 'CONFIG'));
    throw err;
  }
  return [];
}
