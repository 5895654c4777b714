import { Agent as HttpAgent, type AgentOptions, type ClientRequest, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import type { ProxyRules } from './proxy-rules.js';
import { ProxyError, openTunnel, proxyAuthorization, tlsThrough } from './proxy-tunnel.js';

/**
 * Agents for the AWS SDK's request handler (EC2, ECR), which follow the proxy rules per connection: a request whose
 * host NO_PROXY names connects directly, as it would without them. Only the clients' own requests use them: the
 * SDK's credential chain reads IMDS with its own requests, never through these. Kept alive and at most 50 sockets,
 * the SDK's own defaults.
 */
const SDK_AGENT: AgentOptions = { keepAlive: true, maxSockets: 50 };
/** A CONNECT that takes longer than this is a proxy that is not working; the SDK's own timeouts are shorter still. */
const TUNNEL_TIMEOUT_MS = 10_000;

/** The TLS options of a connection an https.Agent makes, without the parts that name where it connects. */
function tlsOptionsOf(options: ClientRequestArgs & ConnectionOptions): ConnectionOptions {
  const keys = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'minVersion', 'maxVersion', 'secureContext', 'rejectUnauthorized', 'servername', 'checkServerIdentity', 'ALPNProtocols', 'session'] as const;
  return Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]])) as ConnectionOptions;
}

type Callback = (err: Error | null, stream: Duplex) => void;

/** http.Agent's addRequest, which Node has and its type declarations leave out. */
const agentAddRequest = (agent: HttpAgent, req: ClientRequest, options: object) =>
  (HttpAgent.prototype as unknown as { addRequest(this: HttpAgent, r: ClientRequest, o: object): void }).addRequest.call(agent, req, options);

class ProxyingHttpsAgent extends HttpsAgent {
  constructor(private readonly rules: ProxyRules) {
    super(SDK_AGENT);
  }

  override createConnection(options: ClientRequestArgs & ConnectionOptions, callback?: Callback): Duplex | undefined {
    const target = { host: String(options.host ?? 'localhost'), port: Number(options.port ?? 443) };
    const choice = this.rules.choose({ protocol: 'https:', hostname: target.host, port: String(target.port) });
    if (!('proxy' in choice) || !callback) return super.createConnection(options, callback) ?? undefined;
    openTunnel(choice.proxy, target, { timeoutMs: TUNNEL_TIMEOUT_MS }).then(
      (tunnel) => callback(null, tlsThrough(tunnel, target, tlsOptionsOf(options))),
      // node:http reads only the error when there is one. A proxy's 5xx is retried as the service's own 5xx would
      // be: the SDK's retry reads the status from $metadata.
      (err: ProxyError) => callback(err.status && err.status >= 500 ? Object.assign(err, { $metadata: { httpStatusCode: err.status } }) : err, undefined as unknown as Duplex),
    );
    return undefined;
  }
}

/** An http:// target through the proxy: the request, in absolute form, goes to the proxy's host and port. */
class ProxyingHttpAgent extends HttpAgent {
  constructor(private readonly rules: ProxyRules) {
    super(SDK_AGENT);
  }

  addRequest(req: ClientRequest, options: ClientRequestArgs): void {
    const host = String(options.host ?? 'localhost');
    const port = Number(options.port ?? 80);
    const choice = this.rules.choose({ protocol: 'http:', hostname: host, port: String(port) });
    if ('direct' in choice) return agentAddRequest(this, req, options);
    const p = 'proxy' in choice ? choice.proxy : undefined;
    // A request that may not go anywhere fails where a connection error would: in createConnection, whose error
    // node:http hands to the request (destroying a request that has no socket yet would leave it hanging).
    const refusal = 'refused' in choice ? choice.refused : p && p.protocol !== 'http:' && p.protocol !== 'https:' ? `proxy ${p.shown} (from ${p.variable}): postjoin speaks to http:// and https:// proxies only` : undefined;
    if (refusal || !p) return agentAddRequest(this, req, { ...options, proxyRefusal: refusal });
    // The request line and headers are written later, on the first write: the path can still change here.
    req.path = `http://${isIP(host) === 6 ? `[${host}]` : host}${port === 80 ? '' : `:${port}`}${req.path}`;
    for (const [name, value] of Object.entries(proxyAuthorization(p))) req.setHeader(name, value);
    agentAddRequest(this, req, { ...options, host: p.hostname, port: p.port, proxyTls: p.protocol === 'https:' });
  }

  override createConnection(options: ClientRequestArgs & { proxyTls?: boolean; proxyRefusal?: string }, callback?: Callback): Duplex | undefined {
    if (options.proxyRefusal !== undefined) {
      const err = new ProxyError(options.proxyRefusal, false);
      if (callback) process.nextTick(() => callback(err, undefined as unknown as Duplex));
      return undefined;
    }
    if (!options.proxyTls) return super.createConnection(options, callback) ?? undefined;
    const host = String(options.host);
    return tlsConnect({ host, port: Number(options.port), ...(isIP(host) ? {} : { servername: host }) });
  }
}

export function proxyAgents(rules: ProxyRules): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  return { httpAgent: new ProxyingHttpAgent(rules), httpsAgent: new ProxyingHttpsAgent(rules) };
}
