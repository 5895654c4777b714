import http from 'node:http';
import type { Logger } from 'pino';
import { formatDuration } from '../../base/duration.js';
import { SourceUnreadable } from '../../base/errors.js';
import { backoffDelay, giveUp, retry } from '../../base/retry.js';
import { Stopped, reasonOf } from '../../base/stop-reason.js';

export const DEFAULT_IMDS_ENDPOINT = 'http://169.254.169.254';
const TOKEN_PATH = '/latest/api/token';
/** The longest session IMDS grants (6 h); one token then lasts the whole run. */
const TOKEN_TTL_SECONDS = 21_600;
/** IMDS is a link-local service: a healthy one answers in milliseconds, so a slow answer is a failed attempt. */
const REQUEST_TIMEOUT_MS = 3_000;
const RETRY_BASE_MS = 100;
const RETRY_CAP_MS = 5_000;
/** EC2 caps user data at 16 KiB; anything far beyond that is not IMDS, and must not fill our memory. */
const MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface ImdsClientOptions {
  /** Default: AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254 (the variable the AWS SDKs read). */
  endpoint?: string;
  /** Total time one read may spend on attempts and backoff (config `imds.budget`). */
  budgetMs: number;
  requestTimeoutMs?: number;
  tokenTtlSeconds?: number;
  log?: Logger;
  random?: () => number;
  /** The run's stop (SIGTERM, the run deadline): ends a read at once, in flight or in its backoff, with Stopped. */
  stop?: AbortSignal;
}

/**
 * IMDSv2 only: every GET carries a session token, and there is no fallback to IMDSv1, whose unauthenticated
 * GETs are what SSRF attacks use. Written on node:http rather than `@aws-sdk/ec2-metadata-service`, which has
 * no per-request timeout (a hung IMDS would hang the boot) and no overall retry budget.
 */
export interface ImdsClient {
  readonly endpoint: string;
  /** The body at `path`, or undefined when IMDS answers 404: absent, which is not a failure. */
  get(path: string): Promise<Buffer | undefined>;
  getText(path: string): Promise<string | undefined>;
}

export function imdsEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.AWS_EC2_METADATA_SERVICE_ENDPOINT || DEFAULT_IMDS_ENDPOINT).replace(/\/+$/, '');
}

export function createImdsClient(opts: ImdsClientOptions): ImdsClient {
  return new Imdsv2Client(opts);
}

/** An attempt that may succeed if tried again (a timeout, a 5xx): the read backs off and retries within its budget. */
class RetryableAttempt extends Error {}
/** IMDS refused our session token: fetch a fresh one and ask again, once. */
class RejectedToken extends Error {}

type Attempt = { kind: 'ok'; body: Buffer } | { kind: 'absent' } | { kind: 'retry'; reason: string } | { kind: 'fatal'; reason: string };

interface Answer {
  status: number;
  body: Buffer;
}
/** A transport failure: timeouts and lost connections are worth retrying; an oversized answer is not. */
interface Failure {
  failure: string;
  retry: boolean;
}

class Imdsv2Client implements ImdsClient {
  readonly endpoint: string;
  private readonly budgetMs: number;
  private readonly requestTimeoutMs: number;
  private readonly ttlSeconds: number;
  private readonly random: () => number;
  private token: { value: string; expiresAt: number } | undefined;

  constructor(private readonly opts: ImdsClientOptions) {
    this.endpoint = (opts.endpoint ?? imdsEndpoint()).replace(/\/+$/, '');
    this.budgetMs = opts.budgetMs;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.ttlSeconds = opts.tokenTtlSeconds ?? TOKEN_TTL_SECONDS;
    this.random = opts.random ?? Math.random;
  }

  async getText(path: string): Promise<string | undefined> {
    return (await this.get(path))?.toString('utf8');
  }

  async get(path: string): Promise<Buffer | undefined> {
    const deadline = Date.now() + this.budgetMs;
    let lastError: string | undefined;
    return retry(
      async () => {
        this.throwIfStopped(path, lastError);
        const outcome = await this.attempt(path, deadline);
        this.throwIfStopped(path, lastError);
        if (outcome.kind === 'ok') return outcome.body;
        if (outcome.kind === 'absent') return undefined;
        if (outcome.kind === 'fatal') throw this.unreadable(path, outcome.reason);
        throw new RetryableAttempt(outcome.reason);
      },
      {
        signal: this.opts.stop,
        delayMs: (err, retry) => {
          if (!(err instanceof RetryableAttempt)) return giveUp(err);
          const wait = backoffDelay(RETRY_BASE_MS, retry, this.random, RETRY_CAP_MS);
          if (Date.now() + wait >= deadline) {
            return giveUp(this.unreadable(path, `no answer within imds.budget (${formatDuration(this.budgetMs)}); last error: ${err.message}`));
          }
          // The first failure is worth a line in the journal; the retries after it are not.
          const log = retry === 0 ? this.opts.log?.warn.bind(this.opts.log) : this.opts.log?.debug.bind(this.opts.log);
          log?.({ path, retry: retry + 1, reason: err.message }, `IMDS ${path}: ${err.message}; retrying within imds.budget`);
          lastError = err.message;
          return wait;
        },
        stopped: () => this.stoppedError(path, lastError),
      },
    );
  }

  private throwIfStopped(path: string, lastError: string | undefined): void {
    if (this.opts.stop?.aborted) throw this.stoppedError(path, lastError);
  }

  private stoppedError(path: string, lastError: string | undefined): Stopped {
    return new Stopped(`${reasonOf(this.opts.stop!)} while reading IMDS ${path}${lastError ? ` (last error: ${lastError})` : ''}`);
  }

  private async attempt(path: string, deadline: number): Promise<Attempt> {
    // A rejected token (expired, or IMDS restarted) is refreshed at once, once; a second 401 is a real fault.
    return retry(
      async (refreshes) => {
        const token = await this.sessionToken(deadline);
        if (token.kind !== 'ok') return token;
        const answer = await this.send('GET', path, { 'x-aws-ec2-metadata-token': token.body.toString() }, deadline);
        if ('failure' in answer) return { kind: answer.retry ? 'retry' : 'fatal', reason: answer.failure };
        if (answer.status === 200) return { kind: 'ok', body: answer.body };
        if (answer.status === 404) return { kind: 'absent' };
        if (answer.status === 401) {
          this.token = undefined;
          if (refreshes === 0) throw new RejectedToken();
          return { kind: 'retry', reason: 'HTTP 401: the fresh session token was rejected too' };
        }
        return classify(answer.status);
      },
      { delayMs: (err) => (err instanceof RejectedToken ? 0 : giveUp(err)) },
    );
  }

  private async sessionToken(deadline: number): Promise<Attempt> {
    if (this.token && Date.now() < this.token.expiresAt) return { kind: 'ok', body: Buffer.from(this.token.value) };
    const answer = await this.send('PUT', TOKEN_PATH, { 'x-aws-ec2-metadata-token-ttl-seconds': String(this.ttlSeconds) }, deadline);
    if ('failure' in answer) return { kind: answer.retry ? 'retry' : 'fatal', reason: `session token: ${answer.failure}` };
    if (answer.status === 200 && answer.body.length > 0) {
      // Renew a little early, so a token never expires between our check and IMDS's.
      const lifetimeMs = this.ttlSeconds * 1000 - Math.min(60_000, this.ttlSeconds * 100);
      this.token = { value: answer.body.toString().trim(), expiresAt: Date.now() + lifetimeMs };
      return { kind: 'ok', body: Buffer.from(this.token.value) };
    }
    const c = classify(answer.status);
    if (c.kind === 'retry' || answer.status === 403) return { ...c, reason: `session token: ${c.reason}` };
    return { kind: 'fatal', reason: `session token: HTTP ${answer.status}; IMDSv2 is required, and postjoin never falls back to IMDSv1` };
  }

  /** One HTTP exchange, bounded by the per-request timeout and the read's deadline. */
  private send(method: 'GET' | 'PUT', path: string, headers: Record<string, string>, deadline: number): Promise<Answer | Failure> {
    const timeoutMs = Math.max(1, Math.min(this.requestTimeoutMs, deadline - Date.now()));
    if (this.opts.stop?.aborted) return Promise.resolve({ failure: 'stopped', retry: false });
    return new Promise((resolve) => {
      let settled = false;
      const done = (v: Answer | Failure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      };
      // agent: false — one connection per request, so no idle keep-alive socket outlives the run.
      const req = http.request(`${this.endpoint}${path}`, { method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy();
            done({ failure: `the answer is larger than ${MAX_BODY_BYTES} bytes`, retry: false });
          } else chunks.push(c);
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', (err) => done({ failure: `connection lost: ${err.message}`, retry: true }));
        res.on('aborted', () => done({ failure: 'connection lost while reading the answer', retry: true }));
      });
      const timer = setTimeout(() => {
        req.destroy();
        done({ failure: `no answer within ${formatDuration(timeoutMs)}`, retry: true });
      }, timeoutMs);
      // A stop abandons the request in flight; get() then throws Stopped.
      const stop = this.opts.stop;
      const onStop = () => {
        req.destroy();
        done({ failure: 'stopped', retry: false });
      };
      stop?.addEventListener('abort', onStop, { once: true });
      req.on('close', () => stop?.removeEventListener('abort', onStop));
      req.on('error', (err: NodeJS.ErrnoException) => done({ failure: err.code ? `${err.code}: ${err.message}` : err.message, retry: true }));
      req.end();
    });
  }

  private unreadable(path: string, reason: string): SourceUnreadable {
    return new SourceUnreadable(`IMDS ${this.endpoint}`, `${path}: ${reason}`);
  }
}

function classify(status: number): Extract<Attempt, { reason: string }> {
  if (status >= 500 || status === 429) return { kind: 'retry', reason: `HTTP ${status}` };
  if (status === 403) return { kind: 'fatal', reason: 'HTTP 403: IMDS refused the request (is the metadata service disabled for this instance?)' };
  return { kind: 'fatal', reason: `unexpected HTTP ${status}` };
}
