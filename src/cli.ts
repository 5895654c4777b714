import { parseArgs } from 'node:util';
import { ExitCode, InvalidInput, PostjoinError } from './base/errors.js';
import { quoted } from './base/shown-text.js';
import { VERSION } from './base/version.js';
import { DEFAULT_CONFIG_PATH, DEFAULT_STATE_DIR, LOG_LEVELS, type LogLevel } from './config/defaults.js';
import { verbs } from './verbs/catalog.js';
import type { OptionSpec, Verb } from './verbs/verb.js';

const COMMON: OptionSpec = {
  config: { type: 'string' },
  'state-dir': { type: 'string' },
  'log-level': { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export const EXIT_CODES_HELP = `Exit codes:
  0  every task succeeded, was already done, or failed with onFailure: continue
  1  a task failed and stopped the run, or the run was stopped (SIGTERM, runTimeout)
  2  invalid input: usage, config, a task document, or a policy denial; no task was started
  3  readiness was not reached before the deadline; no task was started
  4  a required source could not be read (IMDS unreachable after retries, a tasksDir entry that is not a readable file); no task was started`;

const COMMON_HELP = `Common flags:
  --config FILE       agent config (default ${DEFAULT_CONFIG_PATH}; built-in defaults if missing)
  --state-dir DIR     state directory (default ${DEFAULT_STATE_DIR})
  --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default info)
  --output FORMAT     text or json, for verbs that print a result
  -h, --help          this help; every verb has its own`;

export function mainHelp(): string {
  const width = Math.max(...verbs.map((v) => v.name.length));
  const list = verbs.map((v) => `  ${v.name.padEnd(width)}  ${v.summary}`).join('\n');
  return `postjoin ${VERSION}: runs an ordered, validated task list on an EKS node after it joined the cluster

Usage: postjoin <verb> [flags]

Verbs:
${list}

${COMMON_HELP}
  --version           print the version

${EXIT_CODES_HELP}
`;
}

function verbHelp(v: Verb): string {
  const own = Object.keys(v.options).map((k) => `  --${k}`);
  return `Usage: ${v.usage}

${v.summary}.${v.details ? `\n${v.details}` : ''}
${own.length ? `\nFlags:\n${own.join('\n')}\n` : ''}
${COMMON_HELP}

${v.exitCodes ?? EXIT_CODES_HELP}
`;
}

/** Parses the command line and runs one verb. Returns the exit code; never calls process.exit itself. */
export async function main(argv: string[], stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v') {
    stdout.write(`postjoin ${VERSION}\n`);
    return ExitCode.ok;
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    stdout.write(mainHelp());
    return first === undefined ? ExitCode.invalid : ExitCode.ok;
  }
  const verb = verbs.find((v) => v.name === first);
  if (!verb) {
    stderr.write(`postjoin: unknown verb ${quoted(first)}; verbs are ${verbs.map((v) => v.name).join(', ')}. See postjoin --help.\n`);
    return ExitCode.invalid;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...COMMON, ...verb.options }, allowPositionals: verb.positionals ?? false, strict: true });
    if (values.help) {
      stdout.write(verbHelp(verb));
      return ExitCode.ok;
    }
    const logLevel = (values['log-level'] ?? 'info') as string;
    if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw usage(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    const output = (values.output ?? 'text') as string;
    if (output !== 'text' && output !== 'json') throw usage('--output must be text or json');
    const mod = await verb.load();
    return await mod.run({
      configPath: (values.config as string | undefined) ?? DEFAULT_CONFIG_PATH,
      configGiven: values.config !== undefined,
      stateDir: (values['state-dir'] as string | undefined) ?? DEFAULT_STATE_DIR,
      logLevel: logLevel as LogLevel,
      output,
      values,
      positionals,
      stdout,
    });
  } catch (err) {
    if (err instanceof PostjoinError) {
      stderr.write(`postjoin ${verb.name}: ${err.message.replace(/\n/g, `\npostjoin ${verb.name}: `)}\n`);
      return err.exitCode;
    }
    if ((err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      stderr.write(`postjoin ${verb.name}: ${(err as Error).message}\nSee postjoin ${verb.name} --help.\n`);
      return ExitCode.invalid;
    }
    stderr.write(`postjoin ${verb.name}: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return ExitCode.taskFailed;
  }
}

function usage(message: string): InvalidInput {
  return new InvalidInput({ source: 'usage', message });
}
