import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { formatDuration } from '../../base/duration.js';
import { giveUp, retry } from '../../base/retry.js';
import { quoted } from '../../base/shown-text.js';
import { VERSION } from '../../base/version.js';
import { routeFor } from '../http/proxy-env.js';
import type { ProxyChoice, ProxyRules } from '../http/proxy-rules.js';
import { abortText } from './abort-text.js';
import { ExecCredentials, ExecPluginError, type Credential } from './exec-credential.js';
import type { ClusterAccess } from './kubeconfig.js';

/**
 * The smallest Kubernetes client postjoin needs: one JSON request over node:https with the kubeconfig's CA and
 * the node's credential, a per-request timeout, an abort signal and a size cap. Chosen over
 * @kubernetes/client-node by measurement (docs/cluster-handoff.md): that one costs 0.3 s and 70 MB to load,
 * has no request timeout, and sends a JSON patch unless told otherwise.
 */
export interface KubeRequest {
  method: 'GET' | 'PATCH' | 'POST';
  /** Absolute API path, e.g. /api/v1/nodes/ip-10-0-0-1.ec2.internal/status. */
  path: string;
  body?: unknown;
  /** Default application/json; a patch must name its kind. */
  contentType?: string;
  signal: AbortSignal;
  /** Bounds this request, the credential plugin's run included. */
  timeoutMs: number;
}

export interface KubeClient {
  readonly server: string;
  request<T = unknown>(req: KubeRequest): Promise<T>;
}

/** A Node object is tens of KB; its image list can make it hundreds. Past this it is not an answer we want. */
const MAX_BODY = 4 * 1024 * 1024;

/**
 * Why a request failed, and whether trying again may help: connection errors, timeouts, 5xx, 429 (after its
 * Retry-After) and 409 may; 401 after a fresh credential, 403, 404, 422 and TLS failures will not.
 */
export class KubeApiError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
    /** The Status object's reason (NotFound, Forbidden, Invalid, …), when the server sent one. */
    readonly reason?: string,
    readonly aborted = false,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** `proxies`: the proxy rules to follow; by default the process's (HTTPS_PROXY, NO_PROXY), read once. */
export function createKubeClient(access: ClusterAccess, opts: { proxies?: ProxyRules } = {}): KubeClient {
  const exec = access.user.exec ? new ExecCredentials(access.user.exec, access) : undefined;
  /** The credential for one request, and the plugin's own object, which a 401 invalidates. */
  const credential = async (signal: AbortSignal, timeoutMs: number): Promise<Credential & { fromPlugin?: Credential }> => {
    const u = access.user;
    const base: Credential = u.cert && u.key ? { cert: u.cert, key: u.key } : {};
    if (exec) {
      const c = await exec.get(signal, timeoutMs);
      return { ...base, ...c, fromPlugin: c };
    }
    if (u.tokenFile) {
      try {
        return { ...base, token: (await readFile(u.tokenFile, 'utf8')).trim() };
      } catch (err) {
        throw new KubeApiError(`kubeconfig ${access.path}: tokenFile: cannot read ${u.tokenFile}: ${(err as Error).message}`, false);
      }
    }
    return u.token ? { ...base, token: u.token } : base;
  };
  // One server and one set of proxy rules per client: its route is decided once, on the first request.
  let routed: Promise<ProxyChoice> | undefined;

  return {
    server: access.server,
    async request<T>(req: KubeRequest): Promise<T> {
      const deadline = Date.now() + req.timeoutMs;
      const left = () => Math.max(1, deadline - Date.now());
      const route = await (routed ??= routeOf(access, opts.proxies));
      if ('refused' in route) throw new KubeApiError(`${req.method} ${req.path}: ${route.refused}`, false);
      // A 401 gets one fresh credential (the exec plugin's token expired early, or the token file rotated).
      return retry(
        async (refreshes) => {
          const refreshed = refreshes > 0;
          let cred: Credential & { fromPlugin?: Credential };
          try {
            cred = await credential(req.signal, left());
          } catch (err) {
            if (err instanceof KubeApiError) throw err;
            const retryable = err instanceof ExecPluginError && err.retryable;
            throw new KubeApiError((err as Error).message, retryable, undefined, undefined, undefined, req.signal.aborted);
          }
          const answer = await send(access, req, cred, left(), route);
          if (answer.status === 401 && !refreshed && (exec || access.user.tokenFile)) {
            if (cred.fromPlugin) exec?.invalidate(cred.fromPlugin);
            throw new StaleCredential();
          }
          if (answer.status >= 200 && answer.status < 300) return answer.body as T;
          throw failure(answer, req, refreshed);
        },
        { delayMs: (err) => (err instanceof StaleCredential ? 0 : giveUp(err)) },
      );
    },
  };
}

/** A kubeconfig's proxy-url takes every request, as in client-go; without one, the proxy variables decide. */
async function routeOf(access: ClusterAccess, proxies: ProxyRules | undefined): Promise<ProxyChoice> {
  if (!access.proxyUrl || proxies) return routeFor(new URL(access.server), proxies);
  const proxy = (await import('../http/proxy-rules.js')).parseProxyValue(access.proxyUrl, `proxy-url in ${access.path}`);
  return proxy ? { proxy } : { refused: `proxy-url in ${access.path}: cannot read ${quoted(access.proxyUrl)} as a proxy URL` };
}

/** The server refused a credential that may have gone stale: get a fresh one and send the request again, once. */
class StaleCredential extends Error {}

interface Answer {
  status: number;
  body: unknown;
  retryAfter?: string;
}

function send(access: ClusterAccess, req: KubeRequest, cred: Credential, timeoutMs: number, route: ProxyChoice): Promise<Answer> {
  const body = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': `postjoin/${VERSION}` };
  if (cred.token) headers.Authorization = `Bearer ${cred.token}`;
  if (body) {
    headers['Content-Type'] = req.contentType ?? 'application/json';
    headers['Content-Length'] = String(body.length);
  }
  const tls = {
    ...(access.ca ? { ca: access.ca } : {}),
    ...(access.tlsServerName ? { servername: access.tlsServerName } : {}),
    ...(cred.cert && cred.key ? { cert: cred.cert, key: cred.key } : {}),
  };
  // Through a proxy: a CONNECT tunnel, loaded only then, with the same TLS options end to end.
  const connection = 'proxy' in route ? import('../http/proxy-tunnel.js').then((m) => m.tunnelledConnection(route.proxy, target(access.server), { timeoutMs, signal: req.signal, tls })) : undefined;
  const via = 'proxy' in route ? ` (through proxy ${route.proxy.shown} from ${route.proxy.variable})` : '';
  return (connection ?? Promise.resolve(undefined)).then((createConnection) => exchange(access, req, headers, body, tls, timeoutMs, createConnection, via));
}

/** The host and port a kubeconfig's server URL names (IPv6 without brackets). */
function target(server: string): { host: string; port: number } {
  const u = new URL(server);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 443) };
}

type CreateConnection = ReturnType<typeof import('../http/proxy-tunnel.js').tunnelledConnection>;

function exchange(
  access: ClusterAccess,
  req: KubeRequest,
  headers: Record<string, string>,
  body: Buffer | undefined,
  tls: object,
  timeoutMs: number,
  createConnection: CreateConnection | undefined,
  via: string,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const dropped = () => new KubeApiError(`${req.method} ${req.path}: dropped: ${abortText(req.signal)}`, false, undefined, undefined, undefined, true);
    if (req.signal.aborted) return reject(dropped());
    let settled = false;
    const done = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      fn();
    };
    const fail = (e: KubeApiError) => done(() => reject(e));
    // agent: false: one connection per request, closed after it, so no idle keep-alive socket outlives the run.
    // Through a proxy there is no agent either: createConnection makes the one connection.
    const r = httpsRequest(`${access.server}${req.path}`, {
      method: req.method,
      headers,
      ...(createConnection ? { createConnection } : { agent: false }),
      ...tls,
    });
    r.on('error', (e: NodeJS.ErrnoException) => fail(transportError(req, e, via)));
    const timer = setTimeout(() => {
      r.destroy();
      fail(new KubeApiError(`${req.method} ${req.path}: no answer within ${formatDuration(req.timeoutMs)}`, true));
    }, timeoutMs);
    const onAbort = () => {
      r.destroy();
      fail(dropped());
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    r.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          r.destroy();
          fail(new KubeApiError(`${req.method} ${req.path}: the answer is larger than ${MAX_BODY} bytes`, false));
        } else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON (a proxy's error page): keep the text for the message
        }
        const retryAfter = res.headers['retry-after'];
        done(() => resolve({ status: res.statusCode ?? 0, body: parsed, ...(typeof retryAfter === 'string' ? { retryAfter } : {}) }));
      });
      res.on('error', (e) => fail(new KubeApiError(`${req.method} ${req.path}: connection lost: ${e.message}`, true)));
      res.on('aborted', () => fail(new KubeApiError(`${req.method} ${req.path}: connection lost while reading the answer`, true)));
    });
    r.end(body);
  });
}

/** TLS trust failures are configuration, not weather: retrying them only spends the budget. */
const TLS_CODES = /^(ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_SSL_|ERR_OSSL_)/;

function transportError(req: KubeRequest, e: NodeJS.ErrnoException, via: string): KubeApiError {
  const what = `${req.method} ${req.path}`;
  // The proxy's own failures (proxy-tunnel.ts's ProxyError, not imported: that module loads only with a proxy)
  // name the proxy and say whether they may pass.
  if (e.name === 'ProxyError') return new KubeApiError(`${what}: ${e.message}`, (e as { retryable?: boolean }).retryable === true);
  if (e.code && TLS_CODES.test(e.code)) {
    const intercepted = via ? '; or the proxy intercepts TLS, and its CA is not the one the kubeconfig names' : '';
    return new KubeApiError(`${what}${via}: TLS: ${e.message} (${e.code}); check the kubeconfig's certificate-authority and tls-server-name${intercepted}`, false);
  }
  if (e.code === 'ECONNREFUSED') return new KubeApiError(`${what}: connection refused`, true);
  return new KubeApiError(`${what}: ${e.code ? `${e.code}: ` : ''}${e.message}`, true);
}

function failure(a: Answer, req: KubeRequest, refreshed: boolean): KubeApiError {
  const st = (typeof a.body === 'object' && a.body !== null ? a.body : {}) as { message?: unknown; reason?: unknown };
  const serverSays = typeof st.message === 'string' ? st.message : typeof a.body === 'string' ? a.body.trim().slice(0, 200) : '';
  const reason = typeof st.reason === 'string' ? st.reason : undefined;
  const text = `${req.method} ${req.path}: HTTP ${a.status}${reason ? ` ${reason}` : ''}${serverSays ? `: ${serverSays}` : ''}`;
  if (a.status === 401) {
    return new KubeApiError(`${text}${refreshed ? ' (also with a fresh credential)' : ''}; the node's credential was refused`, false, 401, undefined, reason);
  }
  if (a.status === 429) return new KubeApiError(text, true, 429, retryAfterMs(a.retryAfter), reason);
  if (a.status >= 500 || a.status === 409) return new KubeApiError(text, true, a.status, retryAfterMs(a.retryAfter), reason);
  return new KubeApiError(text, false, a.status, undefined, reason);
}

/** Retry-After in seconds (what the API server sends); an HTTP date is honoured too. */
function retryAfterMs(v: string | undefined): number | undefined {
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
