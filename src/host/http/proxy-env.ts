import type { ProxyChoice, ProxyRules } from './proxy-rules.js';

/**
 * The process's proxy settings, read once as Go's ProxyFromEnvironment reads them (HTTPS_PROXY, HTTP_PROXY, NO_PROXY
 * in either case; see proxy-rules.ts). A node without a proxy variable never loads the rules or the tunnel code: this
 * module is all that `plan`, `--version` and a run without a proxy evaluate of it.
 */
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];

export function proxyVariablesSet(env: NodeJS.ProcessEnv = process.env): boolean {
  return PROXY_VARIABLES.some((name) => Boolean(env[name]));
}

/**
 * Read on the first request that asks, never when the module loads: the single executable's startup snapshot is made
 * by a `plan` on the build host, which sends no request, so no build host's proxy is ever baked into it.
 */
let fromProcess: Promise<ProxyRules | undefined> | undefined;

/** This process's rules; undefined when no proxy variable is set. */
export function processProxyRules(): Promise<ProxyRules | undefined> {
  fromProcess ??= proxyVariablesSet() ? import('./proxy-rules.js').then((m) => m.proxyRulesFrom(process.env)) : Promise.resolve(undefined);
  return fromProcess;
}

/** How a request to `url` goes: directly, through a proxy, or not at all (HTTP_PROXY in a CGI environment). */
export async function routeFor(url: URL, rules?: ProxyRules): Promise<ProxyChoice> {
  const r = rules ?? (await processProxyRules());
  return r ? r.choose({ protocol: url.protocol, hostname: url.hostname, port: url.port }) : { direct: true };
}

/**
 * What an AWS SDK client's request handler needs to follow the proxy rules: agents that decide per connection, when a
 * proxy variable is set; nothing otherwise, and the SDK makes its own.
 */
export async function sdkProxyAgents(): Promise<{ httpAgent?: object; httpsAgent?: object }> {
  const rules = await processProxyRules();
  if (!rules?.any) return {};
  return (await import('./proxy-agents.js')).proxyAgents(rules);
}
