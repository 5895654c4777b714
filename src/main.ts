import { main } from './cli.js';

// The bundle's entry. Sets exitCode rather than calling process.exit, so pending stdout is flushed.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`postjoin: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
