import * as grpc from '@grpc/grpc-js';

/**
 * One unary gRPC call with raw protobuf bytes in and out, a deadline, and cancellation from an AbortSignal:
 * a task's timeout must stop a pull inside containerd, not only stop waiting for it.
 */
export interface UnaryOptions {
  /** Per-call deadline; omit for calls that may run as long as their signal allows (a pull). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** e.g. containerd's `containerd-namespace`. */
  metadata?: Record<string, string>;
}

export class GrpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
    this.name = 'GrpcError';
  }

  get codeName(): string {
    return grpc.status[this.code] ?? String(this.code);
  }
}

/** A channel to a unix socket; one per socket is enough for every call of a run. */
export function unixChannel(socket: string): grpc.Client {
  return new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure(), {
    // containerd's own clients reconnect within a second; grpc-js would otherwise back off up to two minutes.
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
}

export function unary(client: grpc.Client, method: string, request: Buffer, opts: UnaryOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new GrpcError(method, grpc.status.CANCELLED, 'cancelled before it started'));
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(opts.metadata ?? {})) metadata.set(k, v);
    const options: grpc.CallOptions = opts.timeoutMs === undefined ? {} : { deadline: Date.now() + opts.timeoutMs };
    const onAbort = () => call.cancel();
    const call = client.makeUnaryRequest(
      method,
      (req: Buffer) => req,
      (res: Buffer) => res,
      request,
      metadata,
      options,
      (err, res) => {
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(new GrpcError(method, err.code, describeDetails(err)));
        else resolve(res ?? Buffer.alloc(0));
      },
    );
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * grpc-js reports a socket that is not there as "No connection established. Last error: Error: connect
 * ENOENT /run/…"; the SRE wants "connection refused" or "no such socket", not the channel's life story.
 */
function describeDetails(err: grpc.ServiceError): string {
  const details = err.details || err.message;
  if (err.code === grpc.status.UNAVAILABLE) {
    if (/ECONNREFUSED/.test(details)) return 'connection refused';
    if (/ENOENT/.test(details)) return 'no such socket';
    if (/EACCES/.test(details)) return 'permission denied';
  }
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return 'no answer before the deadline';
  // "Cancelled on client" is grpc-js talking about itself; the server-side work was cancelled too.
  if (err.code === grpc.status.CANCELLED) return 'cancelled';
  return details;
}
