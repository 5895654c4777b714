import { spawn } from 'node:child_process';
import { formatDuration } from '../../base/duration.js';
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

/** Runs the plugin with argv (never a shell), in its own process group so a cut kills all of it. */
export function runPlugin(cfg: ExecConfig, execInfo: string, signal: AbortSignal, timeoutMs: number): Promise<string> {
  const what = `exec plugin ${quoted(cfg.command)}`;
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new ExecPluginError(`${what}: not started: ${abortText(signal)}`));
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: execInfo };
    for (const e of cfg.env) env[e.name] = e.value;
    const child = spawn(cfg.command, cfg.args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out: Buffer[] = [];
    let outSize = 0;
    let errTail = '';
    let failure: string | undefined;
    let retryable = true;
    const kill = (why: string) => {
      failure ??= why;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already; make sure of the leader
      }
    };
    const timer = setTimeout(() => kill(`no credential within ${formatDuration(timeoutMs)}; killed`), timeoutMs);
    const onAbort = () => kill(`${abortText(signal)}; killed`);
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (c: Buffer) => {
      outSize += c.length;
      if (outSize > MAX_STDOUT) {
        out = [];
        retryable = false;
        kill(`printed more than ${MAX_STDOUT} bytes; that is not an ExecCredential; killed`);
      } else out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      errTail = (errTail + c.toString('utf8')).slice(-STDERR_TAIL);
    });
    let settled = false;
    const finish = (err: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      if (err === undefined) return resolve(Buffer.concat(out).toString('utf8'));
      const last = errTail.split('\n').map((l) => l.trim()).filter(Boolean).at(-1);
      reject(new ExecPluginError(`${what}: ${err}${last ? `: ${last}` : ''}`, retryable && !signal.aborted));
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      retryable = false;
      const hint = cfg.installHint ? ` (${cfg.installHint.trim().split('\n')[0]})` : '';
      finish(e.code === 'ENOENT' ? `not found${cfg.command.includes('/') ? '' : ' in PATH'}${hint}` : e.message);
    });
    // 'close', not 'exit': the whole of stdout is in. A grandchild holding the pipe is cut by the timer.
    child.on('close', (code, sig) => {
      if (failure) return finish(failure);
      if (code === 0) return finish(undefined);
      finish(sig ? `killed by ${sig}` : `exited with ${code}`);
    });
  });
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
