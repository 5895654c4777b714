// Keeps a TCP port on 127.0.0.1 bound but not listening, so connections to it are refused (ECONNREFUSED, as for a
// server that is down) while nobody else can take it, and the stand-in can listen on it again later.
// Node cannot bind a TCP socket without listening, so a tiny python3 process holds it, started through the harness's
// startDaemon (it dies with the test process). SO_REUSEADDR lets it bind over the server's TIME_WAIT connections.
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readLog, startDaemon, stopChild, waitFor, WaitAbort, exited } from '../harness/proc.js';

export interface PortHold {
  release(): Promise<void>;
}

const SCRIPT = [
  'import signal, socket, sys',
  's = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
  's.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
  "s.bind(('127.0.0.1', int(sys.argv[1])))",
  "print('held', flush=True)",
  'signal.pause()',
].join('\n');

export async function holdPort(port: number, dir: string): Promise<PortHold> {
  const logFile = join(dir, `port-hold-${port}-${Date.now()}.log`);
  const child: ChildProcess = await startDaemon('python3', ['-c', SCRIPT, String(port)], { logFile });
  await waitFor(
    `python3 to hold port ${port}`,
    async () => {
      if (exited(child)) throw new WaitAbort('the holder exited');
      return (await readLog(logFile)).includes('held');
    },
    { timeoutMs: 10_000, intervalMs: 10, detail: () => readLog(logFile) },
  );
  return { release: () => stopChild(child, 'SIGTERM', 5_000) };
}
