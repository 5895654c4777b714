import { createServer } from 'node:net';

/**
 * A UNIX socket at `path` that counts who connects to it and hangs up on them: points a client (the D-Bus
 * adapter, the bundle's DBUS_SYSTEM_BUS_ADDRESS) at it to prove whether it connects at all. Closed with the test.
 */
export async function countingSocket(t: { teardown(fn: () => unknown): void }, path: string): Promise<{ connections: () => number }> {
  let connections = 0;
  const srv = createServer((c) => {
    connections++;
    c.destroy();
  }).listen(path);
  t.teardown(() => srv.close());
  await new Promise((r) => srv.once('listening', r));
  return { connections: () => connections };
}
