import { SPAWN_BASE, loadExeca } from '../process/lazy-execa.js';

export interface StatusReporter {
  status(text: string): void;
  /** Sends the last pending status, if any, and waits for it. */
  flush(): Promise<void>;
}

const MIN_INTERVAL_MS = 200;
/**
 * A status is sent this long after it was set. Spawning systemd-notify forks the agent, which blocks its event
 * loop for ~10 ms (page tables of a ~100 MB process); "task 1/7 prepull" is set just before that task is
 * spawned, so sending it at once would delay the very task it announces. A human never sees the difference.
 */
const SEND_DELAY_MS = 100;

/**
 * Reports the phase to systemd (`Status:` in `systemctl status`). Node cannot send sd_notify datagrams
 * itself, so `systemd-notify` is spawned, through execa like every process; the unit sets NotifyAccess=all so
 * systemd accepts it. Best-effort: without NOTIFY_SOCKET or the binary, it does nothing. Rate-limited so a 100-task plan
 * does not spawn 100 processes in a second; the latest status always wins.
 */
export function createStatusReporter(env: NodeJS.ProcessEnv = process.env, binary = 'systemd-notify'): StatusReporter {
  if (!env.NOTIFY_SOCKET) return { status() {}, flush: async () => {} };
  let pending: string | undefined;
  let lastSent = 0;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> = Promise.resolve();

  const send = () => {
    timer = undefined;
    if (pending === undefined) return;
    const text = pending;
    pending = undefined;
    lastSent = Date.now();
    // With reject: false a missing binary or a refused send is a result, which is dropped: best-effort.
    inflight = inflight
      .then(async () => {
        const { execa } = await loadExeca();
        await execa(binary, [`--status=${text}`], { ...SPAWN_BASE, stdout: 'ignore', stderr: 'ignore', env, extendEnv: false });
      })
      .catch(() => {});
  };

  return {
    status(text) {
      pending = text.replace(/\n/g, ' ').slice(0, 200);
      if (timer) return;
      const wait = Math.max(SEND_DELAY_MS, lastSent + MIN_INTERVAL_MS - Date.now());
      timer = setTimeout(send, wait);
      timer.unref();
    },
    async flush() {
      if (timer) clearTimeout(timer);
      send();
      await inflight;
    },
  };
}
