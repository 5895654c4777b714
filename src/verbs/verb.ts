import type { ParseArgsConfig } from 'node:util';
import type { LogLevel } from '../config/defaults.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What every verb gets from the command line, after the common flags are parsed. */
export interface VerbContext {
  configPath: string;
  /** True when --config was given, rather than defaulted. */
  configGiven: boolean;
  stateDir: string;
  logLevel: LogLevel;
  output: 'text' | 'json';
  /** The verb's own flags, as parsed. */
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
  stdout: NodeJS.WritableStream;
}

export interface VerbModule {
  run(ctx: VerbContext): Promise<number>;
}

/** A verb's metadata is cheap to load; its code is imported only when it runs, to keep `--version` fast. */
export interface Verb {
  name: string;
  summary: string;
  usage: string;
  details?: string;
  options: OptionSpec;
  /** Whether the verb takes operands (`validate FILE…`). */
  positionals?: boolean;
  /** Its own exit codes, when they are not run's (`report`: 0 or 1). */
  exitCodes?: string;
  load(): Promise<VerbModule>;
}
