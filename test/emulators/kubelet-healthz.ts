import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A kubelet stand-in on 127.0.0.1: `/healthz` answers 503 with `unhealthyBody` until set healthy, then 200 "ok". */
export interface KubeletStub {
  url: string;
  /** Requests answered so far. */
  readonly polls: number;
  setHealthy(ok: boolean): void;
  close(): Promise<void>;
}

export async function startKubeletStub(unhealthyBody = 'not yet'): Promise<KubeletStub> {
  let healthy = false;
  let polls = 0;
  const server = createServer((_req, res) => {
    polls++;
    if (healthy) res.end('ok');
    else {
      res.statusCode = 503;
      res.end(unhealthyBody);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`,
    get polls() {
      return polls;
    },
    setHealthy: (ok) => void (healthy = ok),
    close: () => new Promise((r) => server.close(() => r())),
  };
}
