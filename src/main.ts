import { main } from './cli.js';

/**
 * Once the verb has returned, nothing may keep the process alive: after a stop, the AWS SDK leaves its retry
 * backoff timer (up to 20 s) behind the aborted call, which would hold a stopped agent past systemd's stop
 * timeout. Unref'd, this timer fires only if something else still holds the event loop.
 */
const EXIT_GRACE_MS = 500;

// The bundle's entry. Sets exitCode rather than calling process.exit, so pending stdout is flushed.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(), EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    process.stderr.write(`postjoin: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
