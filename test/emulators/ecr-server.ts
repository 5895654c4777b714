import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An ECR API emulator on 127.0.0.1 for the real `@aws-sdk/client-ecr`: JSON 1.1 protocol, target
 * `AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken`, answering base64 "user:password" and a
 * proxyEndpoint as ECR does. It records each call (region and key from the SigV4 scope) so a test can
 * assert one token per registry per run, and can refuse like IAM does.
 */
export interface EcrEmulatorOptions {
  /** What the token decodes to; ECR's user is always "AWS". */
  user?: string;
  password: string;
  /** The account the proxyEndpoint names. */
  account?: string;
}

export interface EcrRequestRecord {
  target: string;
  region?: string;
  accessKeyId?: string;
  body: unknown;
  status: number;
}

export interface EcrEmulator {
  url: string;
  requests: EcrRequestRecord[];
  /** GetAuthorizationToken calls only. */
  tokenCalls(): EcrRequestRecord[];
  /** Until cleared, every call is refused with this error (HTTP 400, as ECR sends AccessDeniedException). */
  refuseWith(code: 'AccessDeniedException' | undefined): void;
  close(): Promise<void>;
}

const TARGET = 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken';

export async function startEcrServer(opts: EcrEmulatorOptions): Promise<EcrEmulator> {
  const requests: EcrRequestRecord[] = [];
  let refusal: string | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/ecr\//.exec(String(req.headers.authorization ?? ''));
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        body = undefined;
      }
      const record: EcrRequestRecord = {
        target: String(req.headers['x-amz-target'] ?? ''),
        ...(scope ? { accessKeyId: scope[1], region: scope[2] } : {}),
        body,
        status: 200,
      };
      requests.push(record);
      const send = (status: number, payload: unknown) => {
        record.status = status;
        const text = JSON.stringify(payload);
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(text), 'x-amzn-requestid': `req-${requests.length}` });
        res.end(text);
      };
      if (req.method !== 'POST' || record.target !== TARGET) {
        return send(400, { __type: 'UnknownOperationException', message: `unsupported operation ${record.target}` });
      }
      if (refusal) {
        return send(400, { __type: refusal, message: `User: arn:aws:sts::${opts.account ?? '111122223333'}:assumed-role/node/i-0 is not authorized to perform: ecr:GetAuthorizationToken` });
      }
      const token = Buffer.from(`${opts.user ?? 'AWS'}:${opts.password}`).toString('base64');
      send(200, {
        authorizationData: [
          {
            authorizationToken: token,
            expiresAt: Math.floor(Date.now() / 1000) + 12 * 3600,
            proxyEndpoint: `https://${opts.account ?? '111122223333'}.dkr.ecr.${record.region ?? 'us-east-1'}.amazonaws.com`,
          },
        ],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    tokenCalls: () => requests.filter((r) => r.target === TARGET && r.status === 200),
    refuseWith(code) {
      refusal = code;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
