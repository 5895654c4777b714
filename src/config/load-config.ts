import { didYouMean } from '../base/did-you-mean.js';
import { InvalidInput, ProblemList, type Problem } from '../base/errors.js';
import { readInputFile, UnreadableFile } from '../base/input-file.js';
import { quoted } from '../base/shown-text.js';
import { decodeUtf8Text } from '../base/text-encoding.js';
import { formatPath, parseDocuments } from '../base/yaml-documents.js';
import { zodProblems } from '../base/zod-problems.js';
import { kindNames } from '../kinds/registry.js';
import { sourceNamed } from '../sources/registry.js';
import { SOURCE_NAMES, agentConfigSchema, toAgentConfig, type AgentConfig } from './agent-config.js';

export interface LoadedConfig {
  config: AgentConfig;
  /** False when the file was missing and the built-in defaults apply. */
  fromFile: boolean;
}

/**
 * Loads the agent config. A missing file means built-in defaults (design §3), so an AMI can ship without one;
 * an unreadable, oversized, non-UTF-8 or invalid one is exit 2, naming the file and the key. A dangling
 * symlink is not "missing": the defaults would replace a config someone meant to ship. `allowPipe` is for
 * `validate --config <(…)`; the agent refuses a FIFO, which would block it at boot.
 */
export async function loadConfig(path: string, opts: { allowPipe?: boolean } = {}): Promise<LoadedConfig> {
  const source = `config ${path}`;
  let bytes: Buffer;
  try {
    bytes = await readInputFile(path, { source, what: 'the agent config', allowPipe: opts.allowPipe ?? false });
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    if (err.missing) return { config: parseConfig({}, path), fromFile: false };
    throw new InvalidInput({ source, message: `cannot read: ${err.message}` });
  }
  const text = decodeUtf8Text(bytes, source);
  const docs = parseDocuments(text, path.endsWith('.json') ? 'json' : 'yaml', source);
  if (docs.length > 1) throw new InvalidInput({ source, message: 'holds more than one YAML document; the agent config is one' });
  const doc = docs[0];
  const value = doc?.value ?? {};
  return { config: parseConfig(value, path, doc?.lineOf), fromFile: true };
}

export function parseConfig(value: unknown, path: string, lineOf?: (p: readonly (string | number)[]) => number | undefined): AgentConfig {
  const source = `config ${path}`;
  const locate = (p: readonly (string | number)[]): Pick<Problem, 'source' | 'at' | 'line'> => ({
    source,
    at: formatPath(p),
    line: lineOf?.(p),
  });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInput({ source, message: 'expected a mapping of settings' });
  }
  const parsed = agentConfigSchema.safeParse(value);
  if (!parsed.success) throw new InvalidInput(zodProblems(parsed.error, { schema: agentConfigSchema, input: value, locate }));
  const config = toAgentConfig(parsed.data, path);

  const problems = new ProblemList();
  const allowed = kindNames();
  for (const name of SOURCE_NAMES) {
    config.policy[name].allow.forEach((kind, i) => {
      if (!allowed.includes(kind)) {
        problems.add({ ...locate(['policy', name, 'allow', i]), message: `unknown task kind ${quoted(kind)}; kinds are ${allowed.join(', ')}${didYouMean(kind, allowed)}` });
      }
    });
  }
  if (!config.imds.enabled) {
    for (const s of config.sources.filter((n) => sourceNamed(n)?.needsImds)) {
      problems.add({
        ...locate(['sources']),
        message: `source "${s}" needs IMDS, but imds.enabled is false; remove "${s}" from sources or enable IMDS`,
      });
    }
  }
  problems.throwIfAny();
  return config;
}
