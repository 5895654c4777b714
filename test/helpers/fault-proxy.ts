// An HTTP proxy on 127.0.0.1 in front of an emulator (IMDS, EC2), that lets a test decide, request by request,
// whether to pass it on or to answer with a fault: a status, a body, a hang before the headers, or a stall in
// the middle of the body. Every request is recorded, with the fault it got.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProxyFault =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; body?: string; type?: string }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Send the upstream's headers and half its body, then nothing more. */
  | { kind: 'stall-body' };

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  fault: ProxyFault['kind'];
  /** 1-based count of requests with this method and path so far, this one included. */
  nth: number;
}

export interface FaultProxy {
  url: string;
  requests: ProxiedRequest[];
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string, decide: (req: Omit<ProxiedRequest, 'fault'>) => ProxyFault): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    const key = `${req.method} ${path.split('?')[0]}`;
    const nth = (counts.get(key) ?? 0) + 1;
    counts.set(key, nth);
    const base = { method: req.method ?? '', path, headers: req.headers, nth };
    const fault = decide(base);
    requests.push({ ...base, fault: fault.kind });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fault.kind === 'hang') return;
      if (fault.kind === 'status') {
        const body = fault.body ?? '';
        res.writeHead(fault.status, { 'content-type': fault.type ?? 'text/plain', 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      const up = http.request(`${upstream}${path}`, { method: req.method, headers: { ...req.headers, host: new URL(upstream).host } }, (ur) => {
        const body: Buffer[] = [];
        ur.on('data', (c: Buffer) => body.push(c));
        ur.on('end', () => {
          const all = Buffer.concat(body);
          res.writeHead(ur.statusCode ?? 502, { ...ur.headers, 'content-length': all.length });
          if (fault.kind === 'stall-body') res.write(all.subarray(0, Math.floor(all.length / 2)));
          else res.end(all);
        });
      });
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
