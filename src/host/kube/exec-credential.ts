import { formatDuration } from '../../base/duration.js';
import { SPAWN_BASE, loadExeca, signalGroup } from '../process/lazy-execa.js';
import { inheritedEnv } from '../process/process-group.js';
import { quoted } from '../../base/shown-text.js';
import { abortText } from './abort-text.js';
import type { ClusterAccess, ExecConfig } from './kubeconfig.js';

/**
 * The client.authentication.k8s.io exec protocol (v1beta1 and v1), as client-go speaks it: the plugin gets
 * KUBERNETES_EXEC_INFO and prints an ExecCredential; the credential is cached until its expirationTimestamp
 * and fetched again after a 401. On AL2023 the plugin is `aws eks get-token`, a Python program that reads
 * IMDS: its run is bounded by the reporting budget and killed, with anything it started, when that ends.
 */
export interface Credential {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** ms since the epoch; undefined: until the server refuses it. */
  expiresAt?: number;
}

/** An ExecCredential is a few KB; anything near this is not one, and must not fill our memory. */
const MAX_STDOUT = 1024 * 1024;
const STDERR_TAIL = 8 * 1024;
/** Fetch a fresh credential this long before the plugin says it expires, so it does not expire in flight. */
const EXPIRY_MARGIN_MS = 10_000;

export class ExecCredentials {
  private cached: Credential | undefined;

  constructor(
    private readonly cfg: ExecConfig,
    private readonly cluster: Pick<ClusterAccess, 'server' | 'ca' | 'tlsServerName'>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(signal: AbortSignal, timeoutMs: number): Promise<Credential> {
    const c = this.cached;
    if (c && (c.expiresAt === undefined || c.expiresAt - EXPIRY_MARGIN_MS > this.now())) return c;
    this.cached = undefined;
    const fresh = parseExecCredential(await runPlugin(this.cfg, this.execInfo(), signal, timeoutMs), this.cfg);
    this.cached = fresh;
    return fresh;
  }

  /** After a 401: the next get() runs the plugin again, unless someone already replaced `used`. */
  invalidate(used: Credential): void {
    if (this.cached === used) this.cached = undefined;
  }

  private execInfo(): string {
    const spec: Record<string, unknown> = { interactive: false };
    if (this.cfg.provideClusterInfo) {
      spec.cluster = {
        server: this.cluster.server,
        ...(this.cluster.tlsServerName ? { 'tls-server-name': this.cluster.tlsServerName } : {}),
        ...(this.cluster.ca ? { 'certificate-authority-data': this.cluster.ca.toString('base64') } : {}),
      };
    }
    return JSON.stringify({ apiVersion: this.cfg.apiVersion, kind: 'ExecCredential', spec });
  }
}

export class ExecPluginError extends Error {
  /** A plugin that failed or was slow may work next time (`aws eks get-token` before IMDS has credentials); one that is missing or prints nonsense will not. */
  constructor(
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'ExecPluginError';
  }
}

/**
 * Runs the plugin with argv (never a shell) through execa: its `timeout` and `cancelSignal` end it (SIGKILL),
 * `maxBuffer` caps what it may print, and its result says which of them did. The plugin leads a process group of
 * its own (`detached`); execa kills only the leader, so when the leader is gone, for whatever reason, what is left
 * of its group is killed too: nothing it started outlives it, and nothing holds its stdout open (execa reads it
 * to the end). It gets the agent's environment without systemd's per-service variables, like a task.
 */
export async function runPlugin(cfg: ExecConfig, execInfo: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
  const what = `exec plugin ${quoted(cfg.command)}`;
  if (signal.aborted) throw new ExecPluginError(`${what}: not started: ${abortText(signal)}`);
  const env: Record<string, string> = { ...inheritedEnv(), KUBERNETES_EXEC_INFO: execInfo };
  for (const e of cfg.env) env[e.name] = e.value;
  const { execa } = await loadExeca();
  const child = execa(cfg.command, cfg.args, {
    ...SPAWN_BASE,
    env,
    extendEnv: false,
    detached: true,
    timeout: timeoutMs,
    cancelSignal: signal,
    killSignal: 'SIGKILL',
    encoding: 'buffer',
    buffer: { stdout: true, stderr: false },
    maxBuffer: { stdout: MAX_STDOUT },
  });
  child.once('exit', () => signalGroup(child.pid, 'SIGKILL'));
  // At maxBuffer execa destroys stdout and waits for the plugin to end; a plugin that then stops writing would
  // only end at the timeout. Killed at once instead.
  child.stdout.once('close', () => {
    if (!child.stdout.readableEnded) child.kill();
  });
  let errTail = '';
  child.stderr.on('data', (c: Buffer) => {
    errTail = (errTail + c.toString('utf8')).slice(-STDERR_TAIL);
  });
  const r = await child;
  if (!r.failed) return Buffer.from(r.stdout).toString('utf8');
  const fail = (why: string, retryable: boolean) => {
    const last = errTail.split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
    return new ExecPluginError(`${what}: ${why}${last ? `: ${last}` : ''}`, retryable);
  };
  if (r.isMaxBuffer) throw fail(`printed more than ${MAX_STDOUT} bytes; that is not an ExecCredential; killed`, false);
  if (r.isCanceled) throw fail(`${abortText(signal)}; killed`, false);
  if (r.timedOut) throw fail(`no credential within ${formatDuration(timeoutMs)}; killed`, true);
  if (r.exitCode === undefined && r.signal === undefined) {
    // It never ran. A missing plugin, or one Node refused to start, will not work on a retry either.
    const hint = cfg.installHint ? ` (${cfg.installHint.trim().split('\n')[0]})` : '';
    throw fail(r.code === 'ENOENT' ? `not found${cfg.command.includes('/') ? '' : ' in PATH'}${hint}` : (r.originalMessage ?? r.message ?? 'could not start'), false);
  }
  throw fail(r.signal ? `killed by ${r.signal}` : `exited with ${r.exitCode}`, true);
}

export function parseExecCredential(stdout: string, cfg: Pick<ExecConfig, 'apiVersion' | 'command'>): Credential {
  const what = `exec plugin ${quoted(cfg.command)}`;
  let v: unknown;
  try {
    v = JSON.parse(stdout);
  } catch {
    throw new ExecPluginError(`${what}: did not print an ExecCredential (not JSON: ${quoted(stdout, 80)})`);
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (o.kind !== 'ExecCredential') throw new ExecPluginError(`${what}: printed kind ${quoted(o.kind ?? null)}, not ExecCredential`);
  if (o.apiVersion !== cfg.apiVersion) {
    throw new ExecPluginError(`${what}: the kubeconfig asks for ${cfg.apiVersion}, the plugin answered ${quoted(o.apiVersion ?? null)}`);
  }
  const s = (typeof o.status === 'object' && o.status !== null ? o.status : undefined) as Record<string, unknown> | undefined;
  if (!s) throw new ExecPluginError(`${what}: the ExecCredential has no status`);
  const cred: Credential = {};
  if (typeof s.token === 'string' && s.token) cred.token = s.token;
  const certData = s.clientCertificateData;
  const keyData = s.clientKeyData;
  if (typeof certData === 'string' && certData && typeof keyData === 'string' && keyData) {
    cred.cert = Buffer.from(certData);
    cred.key = Buffer.from(keyData);
  } else if (certData || keyData) {
    throw new ExecPluginError(`${what}: clientCertificateData and clientKeyData come together; the plugin gave only one`);
  }
  if (!cred.token && !cred.cert) throw new ExecPluginError(`${what}: the ExecCredential holds neither a token nor a client certificate`);
  if (s.expirationTimestamp !== undefined && s.expirationTimestamp !== null) {
    const at = typeof s.expirationTimestamp === 'string' ? Date.parse(s.expirationTimestamp) : Number.NaN;
    if (Number.isNaN(at)) throw new ExecPluginError(`${what}: expirationTimestamp ${quoted(s.expirationTimestamp)} is not an RFC 3339 time`);
    cred.expiresAt = at;
  }
  return cred;
}
