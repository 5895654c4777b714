import { fstatSync } from 'node:fs';
import pino, { type Logger } from 'pino';

export type { Logger };
import type { LogLevel } from '../config/defaults.js';

/** syslog priorities journald understands as a `<N>` line prefix (sd-daemon(3)). */
const PRIORITY: Record<string, number> = { fatal: 2, error: 3, warn: 4, info: 6, debug: 7, trace: 7 };

/**
 * True when fd is connected to the journal: systemd sets JOURNAL_STREAM to the stream's `device:inode`,
 * and we compare it with the fd's own, as systemd.exec(5) advises (a child that inherited the variable but
 * writes elsewhere must not prefix).
 */
export function isJournalStream(fd: number, env: NodeJS.ProcessEnv = process.env): boolean {
  const want = env.JOURNAL_STREAM;
  if (!want) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return want === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

export interface LoggerOptions {
  /** 1 for `run` (stdout is the journal); 2 for every other verb, whose stdout is its result. */
  fd: 1 | 2;
  level?: LogLevel;
  journal?: boolean;
}

/**
 * pino JSON through `pino.destination` (sync, so nothing is lost when the process exits). Transports are
 * never used: they spawn worker threads that do not survive a one-file bundle.
 */
export function createLogger(opts: LoggerOptions): Logger {
  const journal = opts.journal ?? isJournalStream(opts.fd);
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A belt to the braces: task env values are never passed to the logger, but if one ever is, it is masked.
      redact: { paths: ['env.*', '*.env.*', 'password', 'token', 'authorization'], censor: '<redacted>' },
      ...(journal ? { hooks: { streamWrite: prefixPriority } } : {}),
    },
    pino.destination({ dest: opts.fd, sync: true }),
  );
}

function prefixPriority(line: string): string {
  const m = /^\{"level":"([a-z]+)"/.exec(line);
  return `<${PRIORITY[m?.[1] ?? 'info'] ?? 6}>${line}`;
}

/** A logger that discards everything, for library use and tests that do not look at logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
