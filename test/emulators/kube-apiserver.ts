// A Kubernetes API stand-in on 127.0.0.1 over HTTPS, for what a node identity does with the API: read and patch
// its own Node (and its status) with real patch semantics, create events, be refused what NodeRestriction refuses.
// There is no real kube-apiserver on these machines; test/system/kube-apiserver-standin.test.ts checks this one with the
// real kubectl. Its own CA; bearer tokens and client certificates; faults switchable at runtime (5xx, 429, a server
// that never answers, a closed port); a record of every request. See test/harness/README.md.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import YAML from 'yaml';
import { removeDir, tempDir } from '../harness/proc.js';
import { makeKubePki, type CertPair, type KubePki } from '../helpers/kube-pki.js';
import type { User } from './kube-admission.js';
import { createEventStore } from './kube-events.js';
import { karpenterRegister, type NodeClaim } from './kube-karpenter.js';
import { createNodeStore } from './kube-node-store.js';
import { kubeletHeartbeatPatch, type AddNodeOptions } from './kube-nodes.js';
import { route } from './kube-routes.js';
import { ApiError, statusBody } from './kube-status.js';
import { kubeconfigText, kubeconfigUser, type KubeconfigOptions } from './kube-kubeconfig.js';
import { holdPort, type PortHold } from './kube-port-hold.js';

export type { KubeconfigOptions };

export interface KubeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
  /** Parsed JSON (YAML for an apply patch); the raw text when it does not parse. */
  body?: unknown;
  /** The authenticated user's name; undefined when authentication failed. */
  user?: string;
  userAgent?: string;
  /** The answer's HTTP status; 0 while unanswered (mode 'hang'). */
  status: number;
}

export interface KubeStandIn {
  /** https://127.0.0.1:PORT */
  url: string;
  caFile: string;
  caPem: string;
  /** Bearer token of system:node:<name> (group system:nodes); the same token on every call. */
  tokenFor(nodeName: string): string;
  /** A system:masters user, for kubectl's fleet view in tests. */
  adminToken: string;
  clientCertFor(nodeName: string): CertPair;
  /** A client certificate for any subject, signed by the CA (or `foreign`: by a CA the server does not trust). */
  clientCert(commonName: string, orgs: string[], foreign?: boolean): CertPair;
  /** Writes a kubeconfig file for this server and returns its path. */
  writeKubeconfig(opts: KubeconfigOptions): Promise<string>;
  /** A kubelet-like Node: Ready=True and the pressure conditions, addresses, nodeInfo. Until then the Node is 404. */
  addNode(name: string, opts?: AddNodeOptions): void;
  /** Deep copy of the current object. */
  node(name: string): any | undefined;
  /** Stored events, events.k8s.io/v1 shape. */
  events(): any[];
  requests: KubeRequestRecord[];
  /** 'closed' stops listening (connections refused) but keeps the port reserved; 'ok' listens on it again. */
  mode(m: 'ok' | '5xx' | 'hang' | 'closed', opts?: { status?: number; times?: number }): Promise<void>;
  /** The next `n` requests get `status` (429 comes with Retry-After: 1). */
  failNext(n: number, status: number): void;
  /**
   * Every request that `match` picks gets `status` until mode('ok') (one write refused while the others pass: the
   * API server going away between two requests of one report).
   */
  failWhere(match: (r: { method: string; path: string }) => boolean, status: number): void;
  /** The kubelet's status heartbeat: a strategic merge patch of its four conditions, as user system:node:<name>. */
  kubeletHeartbeat(name: string): void;
  /** Karpenter's registration patch of a Node for its NodeClaim (test/emulators/kube-karpenter.ts). */
  karpenterRegister(name: string, claim: NodeClaim): void;
  stop(): Promise<void>;
}

const FAULT_TEXT: Record<number, [string, string]> = {
  429: ['TooManyRequests', 'Too many requests, please try again later.'],
  500: ['InternalError', 'Internal error occurred: fault injected by the stand-in'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
};

function faultError(status: number): ApiError {
  const [reason, message] = FAULT_TEXT[status] ?? ['', `fault ${status} injected by the stand-in`];
  if (status === 429) return new ApiError(429, reason, message, { retryAfterSeconds: 1 }, { 'Retry-After': '1' });
  return new ApiError(status, reason, message);
}

function parseBody(raw: Buffer, contentType: string): unknown {
  if (raw.length === 0) return undefined;
  if (contentType === 'application/vnd.kubernetes.protobuf') return raw;
  const text = raw.toString('utf8');
  try {
    return contentType === 'application/apply-patch+yaml' ? YAML.parse(text) : JSON.parse(text);
  } catch {
    return text;
  }
}

const microNow = () => new Date().toISOString().replace(/Z$/, '000Z');

/**
 * Its CA, server certificate and client certificates are made in pure Node in `dir` (test/helpers/kube-pki.ts), or
 * with `pki: loadKubePki`, read from a dir an earlier stand-in made. `port`: a fixed one (a server that comes back
 * where a kubeconfig written earlier points); by default any free one.
 */
export async function startKubeApiServer(opts: { dir?: string; pki?: (dir: string) => KubePki; port?: number } = {}): Promise<KubeStandIn> {
  const dir = opts.dir ?? (await tempDir('kube'));
  const pki = (opts.pki ?? makeKubePki)(dir);
  let rv = 1000;
  const nextVersion = () => String(++rv);
  const nodes = createNodeStore(nextVersion);
  const events = createEventStore(nextVersion);
  const heartbeats = new Map<string, string>();
  const tokens = new Map<string, User>();
  const newToken = () => randomBytes(24).toString('base64url');
  const adminToken = newToken();
  tokens.set(adminToken, { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] });
  const nodeTokens = new Map<string, string>();
  const nodeCerts = new Map<string, CertPair>();
  const nodeUser = (name: string): User => ({ name: `system:node:${name}`, groups: ['system:nodes', 'system:authenticated'] });

  const requests: KubeRequestRecord[] = [];
  let current: 'ok' | '5xx' | 'hang' | 'closed' = 'ok';
  let fiveStatus = 500;
  let fiveLeft = Infinity;
  const failQueue: number[] = [];
  let failRule: { match: (r: { method: string; path: string }) => boolean; status: number } | undefined;
  const sockets = new Set<Socket>();
  let hold: PortHold | undefined;

  // Bearer token first, then a client certificate the CA verified (as the union authenticator; any success wins).
  function authenticate(req: IncomingMessage): User | undefined {
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(auth)?.[1];
    if (token !== undefined && tokens.has(token)) return tokens.get(token);
    const sock = req.socket as TLSSocket;
    if (sock.authorized) {
      const subject = sock.getPeerCertificate().subject as unknown as Record<string, string | string[]> | undefined;
      const cn = subject?.CN;
      const o = subject?.O;
      if (typeof cn === 'string' && cn) return { name: cn, groups: [...(Array.isArray(o) ? o : o ? [o] : []), 'system:authenticated'] };
    }
    return undefined;
  }

  function answer(res: ServerResponse, record: KubeRequestRecord, status: number, body: unknown, headers: Record<string, string> = {}): void {
    record.status = status;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'audit-id': randomBytes(8).toString('hex'), ...headers });
    res.end(text);
  }

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const query = Object.fromEntries(url.searchParams);
    const user = authenticate(req);
    const body = parseBody(raw, contentType);
    const record: KubeRequestRecord = { method: req.method ?? '', path: url.pathname, query, status: 0, user: user?.name };
    if (contentType) record.contentType = contentType;
    if (body !== undefined) record.body = body;
    if (req.headers['user-agent']) record.userAgent = req.headers['user-agent'];
    requests.push(record);
    if (current === 'hang') return; // accepted, read, never answered
    const injected = failQueue.shift() ?? (failRule?.match(record) ? failRule.status : undefined) ?? (current === '5xx' && fiveLeft-- > 0 ? fiveStatus : undefined);
    if (current === '5xx' && fiveLeft <= 0) current = 'ok';
    if (injected !== undefined) {
      const e = faultError(injected);
      return answer(res, record, e.code, statusBody(e), e.headers);
    }
    if (!user) return answer(res, record, 401, statusBody(new ApiError(401, 'Unauthorized', 'Unauthorized')));
    try {
      const a = route(
        { method: record.method, path: record.path, query, contentType, accept: req.headers.accept ?? '', userAgent: req.headers['user-agent'] ?? '', body, user },
        { nodes, events, resourceVersion: () => String(rv), serverAddress: `127.0.0.1:${port}`, heartbeats },
      );
      answer(res, record, a.status, a.body);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`);
      answer(res, record, err.code, statusBody(err), err.headers);
    }
  }

  const server = https.createServer({ key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.caPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {}); // a client that gives up mid-handshake is not our failure
  const listen = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const closeServer = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  const url = `https://127.0.0.1:${port}`;
  let kubeconfigs = 0;
  const standin: KubeStandIn = {
    url,
    caFile: pki.caFile,
    caPem: pki.caPem,
    adminToken,
    requests,
    tokenFor(nodeName) {
      let t = nodeTokens.get(nodeName);
      if (!t) {
        t = newToken();
        nodeTokens.set(nodeName, t);
        tokens.set(t, nodeUser(nodeName));
      }
      return t;
    },
    clientCertFor(nodeName) {
      let c = nodeCerts.get(nodeName);
      if (!c) nodeCerts.set(nodeName, (c = pki.clientCert(`system:node:${nodeName}`, ['system:nodes'])));
      return c;
    },
    clientCert: (cn, orgs, foreign) => (foreign ? pki.foreignClientCert(cn, orgs) : pki.clientCert(cn, orgs)),
    async writeKubeconfig(o) {
      const user = kubeconfigUser(o, { admin: adminToken, tokenFor: standin.tokenFor, certFor: standin.clientCertFor });
      const file = join(o.dir ?? dir, `kubeconfig-${o.user}-${o.nodeName ?? 'any'}-${++kubeconfigs}.yaml`);
      await writeFile(file, kubeconfigText(url, pki, o.caData === true, user), { mode: 0o600 });
      return file;
    },
    addNode: (name, o) => void nodes.add(name, o),
    node: (name) => nodes.peek(name),
    events: () => events.all(),
    async mode(m, o = {}) {
      if (current === 'closed' && m !== 'closed') {
        await hold?.release();
        hold = undefined;
        await listen(port);
      }
      if (m === 'closed' && current !== 'closed') {
        await closeServer();
        hold = await holdPort(port, dir);
      }
      current = m;
      if (m === 'ok') failRule = undefined;
      if (m === '5xx') {
        fiveStatus = o.status ?? 500;
        fiveLeft = o.times ?? Infinity;
      }
    },
    failNext(n, status) {
      for (let i = 0; i < n; i++) failQueue.push(status);
    },
    karpenterRegister: (name, claim) => void karpenterRegister(nodes, name, claim),
    failWhere(match, status) {
      failRule = { match, status };
    },
    kubeletHeartbeat(name) {
      const node = nodes.get(name);
      nodes.write(nodeUser(name), name, 'status', { kind: 'strategic', body: kubeletHeartbeatPatch(node) }, 'kubelet');
      heartbeats.set(name, microNow());
    },
    async stop() {
      if (current !== 'closed') await closeServer();
      await hold?.release();
      if (!opts.dir) await removeDir(dir);
    },
  };
  return standin;
}
