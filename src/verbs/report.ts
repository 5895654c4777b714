import { formatDuration, parseDuration } from '../base/duration.js';
import { InvalidInput } from '../base/errors.js';
import { giveUp, growingDelay, retry } from '../base/retry.js';
import { StopReason } from '../base/stop-reason.js';
import { readBootId } from '../host/files/instance-identity.js';
import { createHost } from '../host/host.js';
import { createStatusReporter } from '../host/notify/systemd-notify.js';
import { createLogger, isJournalStream } from '../report/logger.js';
import { tryPendingReport, type TryResult } from '../report/pending-report.js';
import { loadAgentConfig } from './load-plan.js';
import type { VerbContext } from './verb.js';

const USAGE = 'postjoin report [--retry-for DURATION [--retry-delay DURATION]] [--config FILE] [--state-dir DIR]';
/** The first wait between tries, unless --retry-delay says otherwise. */
const DEFAULT_RETRY_DELAY_MS = 5_000;
/** Waits grow to this, never more: a node whose API server is back hears of it within a minute. */
const MAX_WAIT_MS = 60_000;

/**
 * `postjoin report`: sends the outcome the last run could not report to its Node (state.json keeps it pending), and
 * runs no task. Exit 0 when the Node has it or nothing is pending, 1 when it still could not be made. With
 * --retry-for (what postjoin-report.service runs), it tries again with growing waits until it is made or the time
 * is up: each try is one log line and one record in state.json; giving up is one error line. A SIGTERM ends it at
 * once and it dies by that signal, so a unit stopped by systemd is not a failed one; the outcome stays pending.
 */
export async function run(ctx: VerbContext): Promise<number> {
  const retrying = retryFlags(ctx.values);
  const log = createLogger({ fd: 2, level: ctx.logLevel });
  const config = await loadAgentConfig(ctx.configPath, log);
  const notify = createStatusReporter();
  const stopper = new AbortController();
  let signal: NodeJS.Signals | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signal ??= sig;
    stopper.abort(StopReason.signal(sig));
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);
  const host = createHost();
  const started = Date.now();
  const giveUpAt = started + (retrying?.forMs ?? 0);
  try {
    const bootId = await readBootId();
    // The one retry loop (base/retry.ts): a try that leaves the report pending throws, and the waits grow.
    const last = await retry(
      async (n) => {
        notify.status(n === 0 ? 'looking for a pending report of the last run' : 'trying again to send the pending report');
        const r = await tryPendingReport({ stateDir: ctx.stateDir, configPath: ctx.configPath, kubernetes: config.kubernetes, bootId, host, log, stop: stopper.signal });
        if (r.kind === 'failed' && !signal) throw new StillPending(r);
        return r;
      },
      {
        signal: stopper.signal,
        delayMs: (err, n) => {
          const now = Date.now();
          if (!(err instanceof StillPending) || !retrying || !err.result.retry || now >= giveUpAt) return giveUp(err);
          const r = err.result;
          const wait = Math.min(growingDelay(retrying.delayMs, n, Math.max(MAX_WAIT_MS, retrying.delayMs)), giveUpAt - now);
          const until = new Date(giveUpAt).toISOString();
          log.warn({ node: r.record?.node, next_try_ms: wait }, `${r.message}; next try in ${formatDuration(wait)} (giving up at ${until})`);
          const since = r.record?.pendingSince ? `pending since ${r.record.pendingSince}: ` : '';
          notify.status(`${since}try ${r.record?.tries ?? n + 1} failed; next try in ${formatDuration(wait)}, giving up at ${until}`);
          return wait;
        },
      },
    ).catch((err: unknown) => {
      if (err instanceof StillPending) return err.result;
      throw err;
    });
    const node = last.record?.node;
    if (signal) {
      log.warn({ node: node ?? '?' }, `stopped by ${signal}: the report to Node ${node ?? '?'} stays pending in state.json${last.record?.tries ? ` (${last.record.tries} tries so far)` : ''}; the next boot reports again, or run postjoin report`);
      return 1;
    }
    if (last.kind !== 'failed') {
      if (last.kind === 'made' && last.record.error) log.warn({ node }, last.message);
      else log.info(node ? { node } : {}, last.message);
      notify.status(last.kind === 'made' ? `reported to Node ${node}` : 'nothing to report');
      return finish(ctx, last, 0);
    }
    if (!retrying || !last.retry) log.warn(node ? { node } : {}, last.message);
    else {
      const tries = last.record?.tries ? ` after ${last.record.tries} tries` : '';
      log.error(
        { node, tries: last.record?.tries },
        `gave up after ${formatDuration(retrying.forMs)}: the report to Node ${node ?? '?'} is still pending in state.json${tries} (the last: ${last.record?.error ?? last.message}); ` +
          'the next boot reports again, or run postjoin report (or systemctl start postjoin-report) once the API server is back',
      );
      notify.status(`gave up after ${formatDuration(retrying.forMs)}: the report is still pending (postjoin status)`);
    }
    return finish(ctx, last, 1);
  } finally {
    process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
    await Promise.all([notify.flush(), host.close()]);
    // Ends as the signal would have ended it: systemd counts a unit it stopped with SIGTERM as stopped, not failed.
    if (signal) process.kill(process.pid, signal);
  }
}

/** One line on stdout for a person (not when stdout is the journal: the log lines say it all there), or JSON. */
function finish(ctx: VerbContext, r: TryResult, code: number): number {
  // A failure without a record is not a pending report: the state file could not be read.
  const result = r.kind === 'failed' ? (r.record ? 'pending' : 'error') : r.kind;
  if (ctx.output === 'json') {
    ctx.stdout.write(`${JSON.stringify({ result, message: r.message, report: r.record ?? null }, null, 2)}\n`);
  } else if (!isJournalStream(1)) {
    const rec = r.record;
    const what = rec ? `${rec.condition}=${rec.status}/${rec.reason} on Node ${rec.node}` : '';
    if (r.kind === 'made') ctx.stdout.write(`made: ${what}\n`);
    else if (r.kind === 'failed' && rec) ctx.stdout.write(`pending: ${what}; ${rec.tries ?? 1} tries; see postjoin status\n`);
    else ctx.stdout.write(`${r.message}\n`);
  }
  return code;
}

function retryFlags(values: VerbContext['values']): { forMs: number; delayMs: number } | undefined {
  const duration = (flag: string): number | undefined => {
    const v = values[flag];
    if (v === undefined) return undefined;
    const d = parseDuration(v);
    if (!d.ok) throw usage(`--${flag}: ${d.message}`);
    if (d.ms <= 0) throw usage(`--${flag} must be longer than 0s`);
    return d.ms;
  };
  const forMs = duration('retry-for');
  const delayMs = duration('retry-delay');
  if (forMs === undefined) {
    if (delayMs !== undefined) throw usage('--retry-delay needs --retry-for');
    return undefined;
  }
  return { forMs, delayMs: delayMs ?? DEFAULT_RETRY_DELAY_MS };
}

/** A try that left the report pending: retried while --retry-for lasts. */
class StillPending extends Error {
  constructor(readonly result: Extract<TryResult, { kind: 'failed' }>) {
    super(result.message);
  }
}

function usage(message: string): InvalidInput {
  return new InvalidInput({ source: 'usage', message: `${message}; usage: ${USAGE}` });
}
