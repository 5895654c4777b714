/** Defaults the CLI needs before anything heavy is loaded (kept apart so `--version` stays fast). */
export const DEFAULT_CONFIG_PATH = '/etc/postjoin/config.yaml';
export const DEFAULT_STATE_DIR = '/var/lib/postjoin';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
