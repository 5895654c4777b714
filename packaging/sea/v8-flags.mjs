// Read by build-sea.mjs, which bakes them into each single executable, and by the tests that check them.

/**
 * V8 flags baked into each single executable (sea-config execArgv), for a process that lives seconds, forks
 * a child per task, and must stay small (docs/performance.md, P5):
 * - a 1 MiB young generation instead of up to 16: the run's peak RSS is 2-5 MB lower;
 * - no optimising tiers (TurboFan, Maglev) and no Sparkplug: nothing here runs long enough to repay
 *   compiling it again, and their code and compiler memory are 5-7 MB of RSS.
 * The snapshot is built under the same flags: V8 refuses a code cache, and deserialises a snapshot
 * more slowly, when the flags differ from the ones it was made with.
 */
export const EXEC_ARGV = ['--max-semi-space-size=1', '--no-opt', '--no-maglev', '--no-sparkplug'];
