import type { Options } from 'execa';

let execaModule: Promise<typeof import('execa')> | undefined;

/**
 * execa, the one way postjoin starts a process (the design card's choice): tasks, getent, the kubeconfig's exec
 * plugin, systemd-notify. It is about a hundred modules that `plan`, `validate`, `status` and `--version` never
 * need, so it is loaded on first use; `run` asks for it while it waits for readiness (`Host.process.preload`), so
 * the first task does not wait for it either.
 */
export function loadExeca(): Promise<typeof import('execa')> {
  execaModule ??= import('execa');
  return execaModule;
}

/**
 * What every spawn shares. No shell, ever. `verbose: 'none'` because execa would otherwise turn verbose when the
 * agent's environment has NODE_DEBUG=execa, and print commands and a task's output to stderr, outside the
 * journal's JSON. `reject: false`: a failure is a result to read (exitCode, signal, timedOut, isCanceled, code,
 * originalMessage), not an exception. `cleanup: false`: no exit hook in the agent (signal-exit); what the agent
 * starts is ended by its own rules (a task's timeout, the plugin's budget).
 */
export const SPAWN_BASE = { shell: false, verbose: 'none', reject: false, cleanup: false, stdin: 'ignore' } as const satisfies Options;

/** Signals a whole process group (a `detached` child leads its own); ESRCH means it is already gone. */
export function signalGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing is left in the group.
  }
}
