import { connect, createServer, type Server } from 'node:net';

/**
 * A lock the kernel holds for us: a listening UNIX socket in Linux's abstract namespace (a name, not a file).
 * Binding a name that is bound fails with EADDRINUSE, and the kernel frees the name when the socket closes,
 * including when the process dies by SIGKILL or the machine reboots, so there is no stale lock to detect and no
 * pid to trust. libuv opens it close-on-exec, so the tasks a run starts never inherit it. The name is visible to
 * the processes of one network namespace.
 */
export interface AbstractLock {
  release(): Promise<void>;
}

export type LockAttempt = { held: AbstractLock } | { busy: true };

/**
 * Binds `\0name`. Whoever connects to a held lock is sent `hello` (one line), so a second caller can name the
 * holder even before the holder has written anything else.
 */
export async function bindAbstractLock(name: string, hello: () => string): Promise<LockAttempt> {
  const server: Server = createServer((sock) => {
    sock.on('error', () => {});
    sock.end(`${hello()}\n`);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ path: `\0${name}` }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return { busy: true };
    throw err;
  }
  // The lock must not be what keeps a finished process alive: release() is the normal end, exit the other one.
  server.unref();
  server.on('error', () => {});
  return { held: { release: () => new Promise<void>((resolve) => server.close(() => resolve())) } };
}

/** What the holder of `\0name` says about itself (its first line), or undefined when it says nothing in time. */
export function askAbstractLockHolder(name: string, timeoutMs = 1_000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    const sock = connect({ path: `\0${name}` });
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      text += c;
      if (text.includes('\n') || text.length > 4096) done(text.split('\n')[0]);
    });
    sock.on('end', () => done(text || undefined));
    sock.on('error', () => done(undefined));
  });
}
