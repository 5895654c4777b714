import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An EC2 Query API emulator on 127.0.0.1, for the real `@aws-sdk/client-ec2` (there is no moto here). It
 * speaks DescribeInstances (form POST in, XML out) for instance IDs and their tags, and injects the errors
 * that matter: RequestLimitExceeded (which the SDK really retries), and refusals (UnauthorizedOperation,
 * AccessDenied). Optionally it throttles like EC2 does, with a token bucket.
 */
export interface Ec2EmulatorOptions {
  /** instance ID → its tags. */
  instances?: Record<string, Record<string, string>>;
  /** EC2's request-rate limit as a token bucket, e.g. {capacity: 100, refillPerSecond: 20}. */
  tokenBucket?: { capacity: number; refillPerSecond: number };
  /** The bucket's clock, in ms; tests that check refill rates pass their own. Default Date.now. */
  clock?: () => number;
}

export interface Ec2RequestRecord {
  action: string;
  instanceIds: string[];
  /** From the SigV4 credential scope: which region and access key the SDK signed for. */
  region?: string;
  accessKeyId?: string;
  status: number;
  code?: string;
}

export interface Ec2Emulator {
  url: string;
  port: number;
  instances: Record<string, Record<string, string>>;
  requests: Ec2RequestRecord[];
  /** The next `count` requests fail with RequestLimitExceeded (HTTP 503). */
  throttleNext(count: number): void;
  /** Until cleared, every request is refused with this error code (HTTP 403). */
  refuseWith(code: 'UnauthorizedOperation' | 'AccessDenied' | 'AuthFailure' | undefined): void;
  close(): Promise<void>;
}

const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

export async function startEc2Server(opts: Ec2EmulatorOptions = {}): Promise<Ec2Emulator> {
  const instances = opts.instances ?? {};
  const requests: Ec2RequestRecord[] = [];
  let throttle = 0;
  let refusal: string | undefined;
  const clock = opts.clock ?? Date.now;
  const bucket = opts.tokenBucket ? { tokens: opts.tokenBucket.capacity, at: clock(), ...opts.tokenBucket } : undefined;

  const takeToken = (): boolean => {
    if (!bucket) return true;
    const now = clock();
    bucket.tokens = Math.min(bucket.capacity, bucket.tokens + ((now - bucket.at) / 1000) * bucket.refillPerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/ec2\//.exec(String(req.headers.authorization ?? ''));
      const record: Ec2RequestRecord = {
        action: form.get('Action') ?? '',
        instanceIds: [...form.entries()].filter(([k]) => /^InstanceId\.\d+$/.test(k)).map(([, v]) => v),
        ...(scope ? { accessKeyId: scope[1], region: scope[2] } : {}),
        status: 200,
      };
      requests.push(record);
      const send = (status: number, body: string) => {
        record.status = status;
        res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      const fail = (status: number, code: string, message: string) => {
        record.code = code;
        send(status, errorXml(code, message));
      };
      if (!scope) return fail(401, 'AuthFailure', 'AWS was not able to validate the provided access credentials');
      if (refusal) return fail(403, refusal, 'You are not authorized to perform this operation.');
      if (throttle > 0 || !takeToken()) {
        throttle = Math.max(0, throttle - 1);
        return fail(503, 'RequestLimitExceeded', 'Request limit exceeded.');
      }
      if (record.action !== 'DescribeInstances') return fail(400, 'InvalidAction', `The action ${record.action} is not valid for this web service.`);
      const missing = record.instanceIds.filter((id) => !(id in instances));
      if (missing.length > 0) return fail(400, 'InvalidInstanceID.NotFound', `The instance ID '${missing.join(', ')}' does not exist`);
      send(200, describeInstancesXml(record.instanceIds, instances));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    instances,
    requests,
    throttleNext(count) {
      throttle = count;
    },
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

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function describeInstancesXml(ids: string[], instances: Record<string, Record<string, string>>): string {
  const items = ids
    .map((id) => {
      const tags = Object.entries(instances[id] ?? {})
        .map(([k, v]) => `<item><key>${xml(k)}</key><value>${xml(v)}</value></item>`)
        .join('');
      return `<item><reservationId>r-${id.slice(2)}</reservationId><ownerId>111122223333</ownerId><groupSet/><instancesSet><item><instanceId>${xml(id)}</instanceId><instanceState><code>16</code><name>running</name></instanceState><tagSet>${tags}</tagSet></item></instancesSet></item>`;
    })
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse xmlns="${NS}"><requestId>${randomUUID()}</requestId><reservationSet>${items}</reservationSet></DescribeInstancesResponse>`;
}

function errorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${xml(code)}</Code><Message>${xml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
}
