/**
 * Sleeps up to ms, waking at once when the signal aborts (SIGTERM must not wait out a 30 s backoff).
 * `arm`, if given, receives the function that ends the sleep early: a probe hands it to a D-Bus signal handler.
 */
export function sleep(ms: number, signal?: AbortSignal, arm?: (wake: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    arm?.(done);
  });
}
