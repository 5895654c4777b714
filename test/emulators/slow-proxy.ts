import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that makes a loopback registry behave like a remote one: every chunk the client sends
 * (in practice, every HTTP request) is held `latencyMs` before it is forwarded, and each connection's answer
 * flows at most `bytesPerSecond`. A registry (ECR, S3 behind it) serves each connection at a bounded rate, so a
 * pull is bound per image rather than by the node's total bandwidth; that is what this models. Protocol-blind:
 * containerd's HTTP/1.1 requests, keep-alive and all, pass through untouched.
 */
export interface SlowProxyOptions {
  /** Upstream `host:port`. */
  target: string;
  latencyMs?: number;
  /** Per connection, upstream → client. 0 or absent: unlimited. */
  bytesPerSecond?: number;
}

export interface SlowProxyStats {
  connections: number;
  active: number;
  maxActive: number;
  bytesDown: number;
  bytesUp: number;
}

export interface SlowProxy {
  /** '127.0.0.1:PORT' */
  host: string;
  port: number;
  stats: SlowProxyStats;
  close(): Promise<void>;
}

const HIGH_WATER = 1 << 20;

export async function startSlowProxy(opts: SlowProxyOptions): Promise<SlowProxy> {
  const [targetHost = '127.0.0.1', targetPort = '0'] = opts.target.split(':');
  const stats: SlowProxyStats = { connections: 0, active: 0, maxActive: 0, bytesDown: 0, bytesUp: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    stats.connections++;
    stats.active++;
    stats.maxActive = Math.max(stats.maxActive, stats.active);
    const upstream = connect(Number(targetPort), targetHost);
    sockets.add(client).add(upstream);
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      stats.active--;
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    relay(client, upstream, { delayMs: opts.latencyMs ?? 0, bytesPerSecond: 0 }, (n) => (stats.bytesUp += n));
    relay(upstream, client, { delayMs: 0, bytesPerSecond: opts.bytesPerSecond ?? 0 }, (n) => (stats.bytesDown += n));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Forwards `from` to `to`, each chunk no earlier than `delayMs` after it arrived, paced by a token bucket. */
function relay(from: Socket, to: Socket, shape: { delayMs: number; bytesPerSecond: number }, counted: (n: number) => void): void {
  const queue: { chunk: Buffer; due: number }[] = [];
  let queued = 0;
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  let tokens = 0;
  let refilledAt = Date.now();
  // A burst of at most 20 ms worth of bytes keeps the pace smooth at timer granularity.
  const burst = Math.max(16 * 1024, Math.floor(shape.bytesPerSecond / 50));

  const pump = () => {
    timer = undefined;
    while (queue.length > 0) {
      const head = queue[0]!;
      const now = Date.now();
      if (head.due > now) {
        timer = setTimeout(pump, head.due - now);
        return;
      }
      let part = head.chunk;
      if (shape.bytesPerSecond > 0) {
        tokens = Math.min(burst, tokens + ((now - refilledAt) * shape.bytesPerSecond) / 1000);
        refilledAt = now;
        if (tokens < 1) {
          timer = setTimeout(pump, Math.max(1, Math.ceil((1000 * Math.min(head.chunk.length, burst)) / shape.bytesPerSecond / 4)));
          return;
        }
        part = head.chunk.subarray(0, Math.floor(tokens));
        tokens -= part.length;
      }
      head.chunk = head.chunk.subarray(part.length);
      if (head.chunk.length === 0) queue.shift();
      queued -= part.length;
      counted(part.length);
      if (!to.destroyed) to.write(part);
    }
    if (queued < HIGH_WATER) from.resume();
    if (ended && !to.destroyed) to.end();
  };

  from.on('data', (chunk: Buffer) => {
    queue.push({ chunk, due: Date.now() + shape.delayMs });
    queued += chunk.length;
    if (queued >= HIGH_WATER) from.pause();
    if (!timer) pump();
  });
  from.on('end', () => {
    ended = true;
    if (!timer) pump();
  });
  to.on('close', () => {
    if (timer) clearTimeout(timer);
  });
}
