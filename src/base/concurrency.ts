/**
 * Runs `work` over `items` with at most `limit` in flight, in order of start. `shouldStart` is asked before
 * each new item, so a failure can stop new starts while letting running ones finish.
 */
export async function forEachWithLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
  shouldStart: () => boolean = () => true,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length && shouldStart()) {
      const i = next++;
      await work(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}
