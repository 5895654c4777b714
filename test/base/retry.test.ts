// base/retry.ts: the one poll loop and the one retry loop every wait and retry in postjoin goes through, and the
// delay formulas they use (the callers' own rules are tested with the callers: the gate, the wait task, a task's
// attempts, the IMDS client, the Kubernetes writer).
import t from 'tap';
import { backoffDelay, giveUp, growingDelay, pollUntil, retry, taskRetryDelay } from '../../src/base/retry.js';

t.test('IMDS backoff: doubles from its base, caps, with full jitter', async (t) => {
  t.equal(backoffDelay(1000, 0, () => 0.999999), 999);
  t.equal(backoffDelay(1000, 3, () => 0.5), 4000);
  t.equal(backoffDelay(1000, 10, () => 0.999999), 29_999);
  t.equal(backoffDelay(1000, 2, () => 0), 0);
});

t.test('task retries: never less than retryDelay; the jitter is added above it, up to the doubled delay capped at 30s', async (t) => {
  const lo = () => 0;
  const hi = () => 0.999999;
  t.equal(taskRetryDelay(1000, 0, lo), 1000, 'the first retry waits retryDelay');
  t.equal(taskRetryDelay(1000, 0, hi), 1000, '…exactly: there is nothing above it yet');
  t.equal(taskRetryDelay(1000, 1, lo), 1000, 'later retries: at least retryDelay');
  t.equal(taskRetryDelay(1000, 1, hi), 1999, '…up to twice it');
  t.equal(taskRetryDelay(1000, 3, () => 0.5), 4500, 'uniform between retryDelay and retryDelay·2^n');
  t.equal(taskRetryDelay(1000, 10, hi), 29_999, 'the doubling stops at 30s');
  t.equal(taskRetryDelay(20_000, 5, hi), 29_999, 'a retryDelay under 30s doubles up to 30s');
  t.equal(taskRetryDelay(300_000, 0, lo), 300_000, 'retryDelay: 5m waits 5m, not at most 30s');
  t.equal(taskRetryDelay(300_000, 0, hi), 300_000);
  t.equal(taskRetryDelay(300_000, 4, hi), 300_000, 'above 30s there is no doubling: every retry waits retryDelay');
  t.equal(taskRetryDelay(0, 3, hi), 0, 'retryDelay: 0 retries at once');
});

t.test('postjoin report\'s waits: between half and all of the doubled delay, capped; each longer than the one two before', async (t) => {
  const lo = () => 0;
  const hi = () => 0.999999;
  t.equal(growingDelay(5000, 0, 60_000, lo), 2500, 'the first wait: at least half the delay');
  t.equal(growingDelay(5000, 0, 60_000, hi), 4999, '…at most the delay');
  t.equal(growingDelay(5000, 2, 60_000, lo), 10_000, 'two tries later, its least is above the first one\'s most');
  t.equal(growingDelay(5000, 10, 60_000, hi), 59_999, 'capped at 1m');
  t.equal(growingDelay(5000, 10, 60_000, lo), 30_000, '…and at least half of it');
  t.equal(growingDelay(120_000, 0, 60_000, lo), 60_000, 'a first delay above the cap is kept: the cap never shortens it');
  for (let n = 0; n < 8; n++) t.ok(growingDelay(1000, n + 2, 60_000, lo) > growingDelay(1000, n, 60_000, hi) || growingDelay(1000, n + 2, 60_000, lo) === 30_000, `wait ${n + 2} > wait ${n}, until the cap`);
});

t.test('pollUntil: looks at once, then after each interval, until a look finds something', async (t) => {
  let looks = 0;
  const found = await pollUntil(async () => (++looks === 3 ? 'found' : undefined), { intervalMs: 10 });
  t.equal(found, 'found');
  t.equal(looks, 3);
  t.equal(await pollUntil(async () => false, { intervalMs: 60_000 }), false, 'anything but undefined ends it, false included');
});

t.test('pollUntil: a nudge ends the sleep at once; one during a look skips the next sleep', async (t) => {
  let nudge = () => {};
  let looks = 0;
  const started = Date.now();
  const found = await pollUntil(
    async () => {
      looks++;
      if (looks === 1) setTimeout(() => nudge(), 20); // wakes the 60 s sleep after the first look
      if (looks === 2) nudge(); // during the look: no sleep before the third
      return looks === 3 ? looks : undefined;
    },
    { intervalMs: 60_000, watch: (n) => (nudge = n) },
  );
  t.equal(found, 3);
  t.ok(Date.now() - started < 30_000, 'neither 60 s sleep was slept');
});

t.test('pollUntil: the signal ends the sleep at once and no look follows; a look that throws ends it too', async (t) => {
  const stop = new AbortController();
  let looks = 0;
  const started = Date.now();
  setTimeout(() => stop.abort(), 20);
  t.equal(await pollUntil(async () => void looks++, { signal: stop.signal, intervalMs: 60_000 }), undefined);
  t.equal(looks, 1, 'no look after the signal fired');
  t.ok(Date.now() - started < 30_000, 'the sleep was cut short');
  const gone = new AbortController();
  gone.abort();
  let after = 0;
  t.equal(await pollUntil(async () => void after++, { signal: gone.signal, intervalMs: 10 }), undefined);
  t.equal(after, 1, 'the first look is made even when the signal has fired; what it finds is for the caller to judge');
  await t.rejects(pollUntil(async () => Promise.reject(new Error('broken')), { intervalMs: 10 }), /broken/);
});

t.test('retry: attempts until one succeeds, waiting what delayMs says after each failure', async (t) => {
  const seen: [string, number][] = [];
  const value = await retry(
    async (n) => {
      if (n < 2) throw new Error(`failure ${n}`);
      return `attempt ${n}`;
    },
    { delayMs: (err, n) => (seen.push([(err as Error).message, n]), 5) },
  );
  t.equal(value, 'attempt 2');
  t.same(seen, [['failure 0', 0], ['failure 1', 1]]);
});

t.test('retry: delayMs ends it by throwing: the error itself (giveUp) or a better one', async (t) => {
  let attempts = 0;
  const fail = () => (attempts++, Promise.reject(new Error('not worth it')));
  await t.rejects(retry(fail, { delayMs: giveUp }), /^not worth it$/);
  t.equal(attempts, 1);
  await t.rejects(
    retry(fail, { delayMs: (err, n) => (n < 2 ? 0 : giveUp(new Error(`budget spent; last error: ${(err as Error).message}`))) }),
    /^budget spent; last error: not worth it$/,
  );
  t.equal(attempts, 4, 'three more attempts: two retries, then the budget');
});

t.test('retry: a stop during the wait ends it at once, with what stopped() says (or the last error)', async (t) => {
  const stop = new AbortController();
  let attempts = 0;
  const started = Date.now();
  setTimeout(() => stop.abort(), 20);
  const err = await retry(async () => Promise.reject(new Error(`failure ${attempts++}`)), {
    signal: stop.signal,
    delayMs: () => 60_000,
    stopped: (last) => new Error(`stopped after ${(last as Error).message}`),
  }).catch((e: unknown) => e);
  t.match(err, { message: 'stopped after failure 0' });
  t.equal(attempts, 1, 'no attempt after the stop');
  t.ok(Date.now() - started < 30_000, 'the 60 s wait was cut short');
  const plain = new AbortController();
  plain.abort();
  await t.rejects(retry(async () => Promise.reject(new Error('last')), { signal: plain.signal, delayMs: () => 10 }), /^last$/);
});
