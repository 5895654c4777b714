import { TaskFailed, type TaskContext, type TaskResult } from './kind.js';

/**
 * Shared by `exec` and `script`: runs argv in its own process group (never through a shell), forwards its
 * output, reports what it left running, and turns a bad exit into a TaskFailed an SRE can act on.
 */
export async function runCommand(command: string, args: readonly string[], ctx: TaskContext, display = command): Promise<TaskResult> {
  let lastStderr = '';
  const outcome = await ctx.host.process.run({
    command,
    args,
    env: ctx.env,
    ...(ctx.cwd ? { cwd: ctx.cwd } : {}),
    signal: ctx.signal,
    onLine(stream, line, truncated) {
      if (stream === 'stderr' && line.trim()) lastStderr = line.trim();
      ctx.output.line(stream, line, truncated);
    },
    discardStdout: () => ctx.output.full,
    onDropped: (bytes) => ctx.output.dropped(bytes),
  });
  if (outcome.leftovers.length > 0) {
    const list = outcome.leftovers.map((p) => `pid ${p.pid} (${p.command})`).join(', ');
    ctx.log.warn(
      { leftovers: outcome.leftovers },
      outcome.killed ? `processes escaped the task's process group and are still running: ${list}` : `task left processes running: ${list}`,
    );
  }
  if (outcome.spawnError) throw new TaskFailed(`cannot start ${display}: ${outcome.spawnError}`);
  if (outcome.signal) throw new TaskFailed(`${display} was killed by ${outcome.signal}`);
  if (outcome.exitCode !== 0) {
    const hint = lastStderr ? `: ${lastStderr.slice(0, 300)}` : '';
    throw new TaskFailed(`${display} exited with code ${outcome.exitCode}${hint}`, outcome.exitCode ?? undefined);
  }
  return { exitCode: 0 };
}
