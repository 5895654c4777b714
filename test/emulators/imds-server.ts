import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An IMDSv2 emulator on 127.0.0.1: a real HTTP server the real client code talks to. It issues session tokens
 * (PUT /latest/api/token), answers 401 to any GET without a valid one, and serves the instance ID, the
 * identity document, user data, instance tags and (optionally) role credentials for the AWS SDK. Faults are
 * switched on per test: 5xx bursts, slow answers, dropped connections, token expiry.
 */
export interface ImdsEmulatorOptions {
  instanceId?: string;
  region?: string;
  accountId?: string;
  /** undefined: no user data (404). */
  userData?: Buffer | string;
  tags?: Record<string, string>;
  /** false: tags are not in instance metadata, so the tags paths answer 404 (the EC2 default). */
  tagsInMetadata?: boolean;
  /** An instance role for the SDK's credential chain; undefined: none (404), as on an instance without a profile. */
  role?: { name: string; accessKeyId: string; secretAccessKey: string; token: string };
}

export type Fault = { kind: 'status'; status: number } | { kind: 'drop' } | { kind: 'delay'; ms: number };

export interface RequestRecord {
  method: string;
  path: string;
  /** Whether the request carried a session token header (valid or not). */
  withToken: boolean;
  /** The answer: an HTTP status, or 'dropped'. */
  outcome: number | 'dropped';
}

export interface ImdsEmulator {
  url: string;
  port: number;
  /** Mutable: change them between reads. */
  state: Required<Pick<ImdsEmulatorOptions, 'instanceId' | 'region' | 'accountId' | 'tags' | 'tagsInMetadata'>> &
    Pick<ImdsEmulatorOptions, 'userData' | 'role'>;
  requests: RequestRecord[];
  tokensIssued(): number;
  /** The next `count` requests (token PUTs included) get this fault; faults queue in order. */
  inject(fault: Fault, count?: number): void;
  /** Until cleared, every request gets this fault: IMDS "down" (a 503 storm, or no answers at all). */
  setDown(fault: Fault | undefined): void;
  /** Every token issued so far becomes invalid, as if its TTL ran out or IMDS restarted. */
  expireTokens(): void;
  close(): Promise<void>;
}

const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';

export async function startImdsServer(opts: ImdsEmulatorOptions = {}): Promise<ImdsEmulator> {
  const state: ImdsEmulator['state'] = {
    instanceId: opts.instanceId ?? 'i-0123456789abcdef0',
    region: opts.region ?? 'us-west-2',
    accountId: opts.accountId ?? '111122223333',
    tags: opts.tags ?? {},
    tagsInMetadata: opts.tagsInMetadata ?? true,
    userData: opts.userData,
    role: opts.role,
  };
  const tokens = new Map<string, number>();
  let issued = 0;
  const queue: Fault[] = [];
  let down: Fault | undefined;
  const requests: RequestRecord[] = [];

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const record: RequestRecord = { method: req.method ?? '', path, withToken: TOKEN_HEADER in req.headers, outcome: 0 };
    requests.push(record);
    const answer = (status: number, body: string | Buffer = '', type = 'text/plain') => {
      record.outcome = status;
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const fault = queue.shift() ?? down;
    if (fault?.kind === 'drop') {
      record.outcome = 'dropped';
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'status') return answer(fault.status, 'injected fault');
    const serve = () => route(req, path, answer);
    if (fault?.kind === 'delay') setTimeout(serve, fault.ms).unref();
    else serve();
  });

  function route(req: http.IncomingMessage, path: string, answer: (status: number, body?: string | Buffer, type?: string) => void): void {
    if (path === '/latest/api/token') {
      if (req.method !== 'PUT') return answer(405);
      const ttl = Number(req.headers[TTL_HEADER]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21_600) return answer(400, 'bad ttl');
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, Date.now() + ttl * 1000);
      issued++;
      return answer(200, token);
    }
    if (req.method !== 'GET') return answer(405);
    const token = req.headers[TOKEN_HEADER];
    const expiry = typeof token === 'string' ? tokens.get(token) : undefined;
    // IMDSv2 only ("HttpTokens: required"): no token, or a stale one, is 401, never an answer.
    if (expiry === undefined || expiry < Date.now()) return answer(401);
    const found = lookup(path);
    if (found === undefined) return answer(404, 'Not Found');
    answer(200, found.body, found.type);
  }

  function lookup(path: string): { body: string | Buffer; type?: string } | undefined {
    const tagPrefix = '/latest/meta-data/tags/instance';
    if (path === '/latest/meta-data/instance-id') return { body: state.instanceId };
    // The task context (POSTJOIN_INSTANCE_TYPE, _REGION, _AVAILABILITY_ZONE); the zone as in the identity document.
    if (path === '/latest/meta-data/instance-type') return { body: 'm5.large' };
    if (path === '/latest/meta-data/placement/region') return { body: state.region };
    if (path === '/latest/meta-data/placement/availability-zone') return { body: `${state.region}a` };
    if (path === '/latest/dynamic/instance-identity/document') {
      const doc = { accountId: state.accountId, instanceId: state.instanceId, region: state.region, availabilityZone: `${state.region}a` };
      return { body: JSON.stringify(doc, null, 2), type: 'application/json' };
    }
    if (path === '/latest/user-data') return state.userData === undefined ? undefined : { body: state.userData, type: 'application/octet-stream' };
    if (path === tagPrefix || path === `${tagPrefix}/`) return state.tagsInMetadata ? { body: Object.keys(state.tags).join('\n') } : undefined;
    if (path.startsWith(`${tagPrefix}/`)) {
      const key = decodeURIComponent(path.slice(tagPrefix.length + 1));
      return state.tagsInMetadata && key in state.tags ? { body: state.tags[key]! } : undefined;
    }
    const creds = '/latest/meta-data/iam/security-credentials';
    if (state.role && (path === creds || path === `${creds}/`)) return { body: state.role.name };
    if (state.role && path === `${creds}/${state.role.name}`) {
      const r = state.role;
      const expiration = new Date(Date.now() + 3_600_000).toISOString();
      const body = { Code: 'Success', Type: 'AWS-HMAC', AccessKeyId: r.accessKeyId, SecretAccessKey: r.secretAccessKey, Token: r.token, Expiration: expiration };
      return { body: JSON.stringify(body), type: 'application/json' };
    }
    return undefined;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    state,
    requests,
    tokensIssued: () => issued,
    inject(fault, count = 1) {
      for (let i = 0; i < count; i++) queue.push(fault);
    },
    setDown(fault) {
      down = fault;
    },
    expireTokens() {
      tokens.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
