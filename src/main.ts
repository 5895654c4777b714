import { main } from './cli.js';

/** true only in dist/postjoin.sea.cjs, the single executables' input (esbuild.config.mjs). */
declare const __POSTJOIN_SEA__: boolean | undefined;

/**
 * Once the verb has returned, nothing may keep the process alive: after a stop, the AWS SDK leaves its retry
 * backoff timer (up to 20 s) behind the aborted call, which would hold a stopped agent past systemd's stop
 * timeout. Unref'd, this timer fires only if something else still holds the event loop.
 */
const EXIT_GRACE_MS = 500;

// The bundle's entry. Sets exitCode rather than calling process.exit, so pending stdout is flushed.
function start(): void {
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
}

// Only the single executables' build can be taking a snapshot; in the bundle for hosts with Node this is `if (false)`.
if (typeof __POSTJOIN_SEA__ === 'boolean' && __POSTJOIN_SEA__ && process.getBuiltinModule('node:v8').startupSnapshot.isBuildingSnapshot()) {
  // The single executable's V8 startup snapshot is being built (packaging/sea/build-sea.mjs): start() runs
  // when it is deserialised, at each start. Until then, prepare what start-up would otherwise compile.
  process.getBuiltinModule('node:v8').startupSnapshot.setDeserializeMainFunction(start);
  void import('./snapshot-warmup.js').then((m) => m.warmUp());
} else {
  start();
}
