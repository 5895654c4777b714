import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidInput, formatProblem } from '../../base/errors.js';
import { isRecord } from '../../base/is-record.js';
import { oneLine, quoted } from '../../base/shown-text.js';
import { formatPath, parseDocuments, type PathSegment } from '../../base/yaml-documents.js';

/**
 * The kubelet's kubeconfig as the node has it, read the way client-go reads it: the current context's cluster
 * and user; file paths relative to the kubeconfig's own directory. On AL2023 nodeadm writes a CA file and an
 * exec plugin (`aws eks get-token --cluster-name … --region …`, v1beta1); Outposts and TLS-bootstrapped
 * kubelets have a client certificate instead.
 */
export interface ClusterAccess {
  /** The kubeconfig file, for messages. */
  path: string;
  /** https://host[:port][/prefix], without a trailing slash. */
  server: string;
  /** PEM; undefined means the system's roots, as client-go does when no CA is given. */
  ca?: Buffer;
  tlsServerName?: string;
  /** The cluster's `proxy-url`: every request goes through it, whatever HTTPS_PROXY and NO_PROXY say (client-go's rule). */
  proxyUrl?: string;
  user: UserAuth;
}

export interface UserAuth {
  token?: string;
  /** Read again whenever a credential is needed, as client-go does (a rotated token is picked up). */
  tokenFile?: string;
  cert?: Buffer;
  key?: Buffer;
  exec?: ExecConfig;
}

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1beta1', 'client.authentication.k8s.io/v1'] as const;
export type ExecApiVersion = (typeof EXEC_API_VERSIONS)[number];

export interface ExecConfig {
  apiVersion: ExecApiVersion;
  /** A bare name is looked up in PATH; one with a "/" is relative to the kubeconfig's directory. */
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  /** Required in v1; v1beta1 defaults to IfAvailable. postjoin is never interactive. */
  interactiveMode: 'Never' | 'IfAvailable' | 'Always';
  provideClusterInfo: boolean;
  installHint?: string;
}

export class KubeconfigError extends Error {
  constructor(path: string, at: readonly PathSegment[], message: string, line?: number) {
    super(formatProblem({ source: `kubeconfig ${path}`, at: formatPath(at) || undefined, line, message }));
    this.name = 'KubeconfigError';
  }
}

type Obj = Record<string, unknown>;

export async function readKubeconfig(path: string): Promise<ClusterAccess> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KubeconfigError(path, [], `cannot read: ${(err as Error).message}`);
  }
  let docs;
  try {
    docs = parseDocuments(text, 'yaml', `kubeconfig ${path}`);
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err;
    // One error, one line: the file's first problems joined, each with its line.
    const shown = err.problems.slice(0, 3).map((p) => (p.line === undefined ? p.message : `line ${p.line}: ${p.message}`));
    const more = err.problems.length > 3 ? `; and ${err.problems.length - 3} more` : '';
    throw new KubeconfigError(path, [], `${shown.join('; ')}${more}`);
  }
  return parseKubeconfig(docs[0]?.value, path, docs[0]?.lineOf);
}

export async function parseKubeconfig(doc: unknown, path: string, lineOf?: (p: readonly PathSegment[]) => number | undefined): Promise<ClusterAccess> {
  const fail = (at: readonly PathSegment[], message: string): never => {
    throw new KubeconfigError(path, at, message, lineOf?.(at));
  };
  const base = dirname(path);
  const root = isRecord(doc) ? doc : fail([], 'expected a kubeconfig mapping (apiVersion: v1, kind: Config)');
  const str = (o: Obj, key: string, at: PathSegment[]): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null || v === '') return undefined;
    return typeof v === 'string' ? v : fail([...at, key], 'expected a string');
  };
  const current = str(root, 'current-context', []) ?? fail(['current-context'], 'is not set; postjoin uses the current context, as the kubelet does');
  const context = named(root, 'contexts', current, 'context', fail);
  const clusterName = str(context.value, 'cluster', context.at) ?? fail([...context.at, 'cluster'], 'is not set');
  const userName = str(context.value, 'user', context.at) ?? fail([...context.at, 'user'], 'is not set');
  const cluster = named(root, 'clusters', clusterName, 'cluster', fail);
  const user = named(root, 'users', userName, 'user', fail);
  const c = cluster.value;
  const u = user.value;
  const readBytes = async (at: PathSegment[], file: string): Promise<Buffer> => {
    const full = resolve(base, file);
    try {
      return await readFile(full);
    } catch (err) {
      // Node's message repeats the path ("ENOENT: no such file or directory, open '…'"): named once, above.
      return fail(at, `cannot read ${oneLine(full, 200)}: ${oneLine((err as Error).message.replace(/, \w+ '[^]*'$/, ''), 200)}`);
    }
  };
  const fileOrData = async (fileKey: string, dataKey: string, o: Obj, at: PathSegment[]): Promise<Buffer | undefined> => {
    const data = str(o, dataKey, at);
    if (data !== undefined) {
      const bytes = Buffer.from(data, 'base64');
      if (bytes.length === 0 || !/^[A-Za-z0-9+/=\s]+$/.test(data)) fail([...at, dataKey], 'is not base64');
      return bytes;
    }
    const file = str(o, fileKey, at);
    return file === undefined ? undefined : readBytes([...at, fileKey], file);
  };

  const serverText = str(c, 'server', cluster.at) ?? fail([...cluster.at, 'server'], 'is not set');
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    return fail([...cluster.at, 'server'], `${quoted(serverText)} is not a URL`);
  }
  // The node's credential goes in every request: never in clear text.
  if (server.protocol !== 'https:') fail([...cluster.at, 'server'], `${quoted(serverText)} is not https; postjoin sends the node's credential only over TLS`);
  if (c['insecure-skip-tls-verify'] === true) {
    fail([...cluster.at, 'insecure-skip-tls-verify'], "is refused: postjoin sends the node's credential only to a server whose certificate it has verified; give certificate-authority or certificate-authority-data");
  }
  const proxyUrl = str(c, 'proxy-url', cluster.at);
  if (proxyUrl !== undefined) checkProxyUrl(proxyUrl, [...cluster.at, 'proxy-url'], fail);
  for (const key of ['auth-provider', 'username', 'password', 'as', 'as-groups', 'as-uid']) {
    if (u[key] !== undefined && u[key] !== null) fail([...user.at, key], 'is not supported by postjoin (token, tokenFile, client certificate or exec only)');
  }

  const auth: UserAuth = {};
  const token = str(u, 'token', user.at);
  const tokenFile = str(u, 'tokenFile', user.at);
  if (token !== undefined) auth.token = token;
  if (tokenFile !== undefined) auth.tokenFile = resolve(base, tokenFile);
  const cert = await fileOrData('client-certificate', 'client-certificate-data', u, user.at);
  const key = await fileOrData('client-key', 'client-key-data', u, user.at);
  if (cert && !key) fail(user.at, 'has a client certificate but no client-key or client-key-data');
  if (key && !cert) fail(user.at, 'has a client key but no client-certificate or client-certificate-data');
  if (cert && key) Object.assign(auth, { cert, key });
  if (u.exec !== undefined && u.exec !== null) {
    if (token !== undefined || tokenFile !== undefined) fail(user.at, 'has both a token and an exec plugin; keep one');
    auth.exec = parseExec(u.exec, [...user.at, 'exec'], base, fail);
  }
  if (!auth.token && !auth.tokenFile && !auth.cert && !auth.exec) fail(user.at, 'has no credential: expected token, tokenFile, client-certificate/client-key or exec');

  const ca = await fileOrData('certificate-authority', 'certificate-authority-data', c, cluster.at);
  const tlsServerName = str(c, 'tls-server-name', cluster.at);
  return {
    path,
    server: server.href.replace(/\/+$/, ''),
    ...(ca ? { ca } : {}),
    ...(tlsServerName ? { tlsServerName } : {}),
    ...(proxyUrl ? { proxyUrl } : {}),
    user: auth,
  };
}

/** client-go takes http, https and socks5 proxies here; postjoin speaks to the first two. */
function checkProxyUrl(v: string, at: PathSegment[], fail: (at: readonly PathSegment[], m: string) => never): void {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return fail(at, `${quoted(v)} is not a URL; expected http://host:port or https://host:port`);
  }
  if (u.protocol === 'socks5:') fail(at, 'is a socks5 proxy, which postjoin does not support; give an http:// or https:// proxy');
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(at, `has the scheme ${quoted(u.protocol.replace(/:$/, ''))}; expected http:// or https://`);
}

function parseExec(v: unknown, at: PathSegment[], base: string, fail: (at: readonly PathSegment[], m: string) => never): ExecConfig {
  if (!isRecord(v)) return fail(at, 'expected a mapping');
  const apiVersion = v.apiVersion;
  if (!(EXEC_API_VERSIONS as readonly unknown[]).includes(apiVersion)) {
    fail([...at, 'apiVersion'], `${quoted(apiVersion ?? null)} is not supported; expected ${EXEC_API_VERSIONS.join(' or ')}`);
  }
  const command = v.command;
  if (typeof command !== 'string' || command === '') return fail([...at, 'command'], 'expected the plugin command as a string');
  const args = v.args ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return fail([...at, 'args'], 'expected a list of strings');
  const env = v.env ?? [];
  if (!Array.isArray(env) || !env.every((e) => isRecord(e) && typeof e.name === 'string' && typeof e.value === 'string')) {
    return fail([...at, 'env'], 'expected a list of {name, value} strings');
  }
  const mode = v.interactiveMode ?? (apiVersion === 'client.authentication.k8s.io/v1' ? undefined : 'IfAvailable');
  if (mode === undefined) fail([...at, 'interactiveMode'], 'is required in client.authentication.k8s.io/v1 (Never or IfAvailable)');
  if (!['Never', 'IfAvailable', 'Always'].includes(mode as string)) fail([...at, 'interactiveMode'], 'expected Never, IfAvailable or Always');
  if (mode === 'Always') fail([...at, 'interactiveMode'], 'is Always, but postjoin runs at boot with no terminal; use Never or IfAvailable');
  return {
    apiVersion: apiVersion as ExecApiVersion,
    command: command.includes('/') ? resolve(base, command) : command,
    args: args as string[],
    env: (env as { name: string; value: string }[]).map(({ name, value }) => ({ name, value })),
    interactiveMode: mode as ExecConfig['interactiveMode'],
    provideClusterInfo: v.provideClusterInfo === true,
    ...(typeof v.installHint === 'string' ? { installHint: v.installHint } : {}),
  };
}

/** The entry named `name` in a kubeconfig list (contexts, clusters, users), with its path for messages. */
function named(root: Obj, list: string, name: string, key: string, fail: (at: readonly PathSegment[], m: string) => never): { value: Obj; at: PathSegment[] } {
  const items = root[list];
  if (!Array.isArray(items)) return fail([list], 'expected a list');
  const i = items.findIndex((e) => isRecord(e) && e.name === name);
  if (i === -1) return fail([list], `has no entry named ${quoted(name)}`);
  const value = (items[i] as Obj)[key];
  if (!isRecord(value)) return fail([list, i, key], 'expected a mapping');
  return { value, at: [list, i, key] };
}

/**
 * The cluster's name from the exec plugin's arguments (`aws eks get-token --cluster-name X`, also `=X`;
 * aws-iam-authenticator's `--cluster-id`/`-i`), for POSTJOIN_CLUSTER_NAME. On Outposts nodeadm passes the
 * cluster's id there. Undefined when the kubeconfig has no such argument.
 */
export function clusterNameOf(access: Pick<ClusterAccess, 'user'>): string | undefined {
  const args = access.user.exec?.args ?? [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const flag of ['--cluster-name', '--cluster-id', '-i']) {
      if (a === flag && i + 1 < args.length) return args[i + 1] || undefined;
      if (a.startsWith(`${flag}=`)) return a.slice(flag.length + 1) || undefined;
    }
  }
  return undefined;
}

/** The cluster name for POSTJOIN_CLUSTER_NAME, or undefined when the kubeconfig cannot be read or names none. */
export async function readClusterName(path: string): Promise<string | undefined> {
  try {
    const doc = parseDocuments(await readFile(path, 'utf8'), 'yaml', `kubeconfig ${path}`)[0]?.value as Obj | undefined;
    const find = (list: unknown, name: unknown): Obj | undefined =>
      Array.isArray(list) ? (list.find((e) => isRecord(e) && e.name === name) as Obj | undefined) : undefined;
    const context = find(doc?.contexts, doc?.['current-context'])?.context as Obj | undefined;
    const user = find(doc?.users, context?.user)?.user as Obj | undefined;
    const exec = user?.exec as Obj | undefined;
    const args = Array.isArray(exec?.args) ? exec.args.filter((a): a is string => typeof a === 'string') : [];
    return clusterNameOf({ user: { exec: { args } as ExecConfig } });
  } catch {
    return undefined;
  }
}
