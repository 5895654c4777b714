/**
 * "Did you mean" for a misspelled key or value: the known words nearest to it.
 *
 * The distance is optimal string alignment: Levenshtein's insert, delete and replace, plus the swap of two
 * neighbouring letters as one edit. The commonest typo is such a swap (`retires`, `exce`, `apiVerison`,
 * `restrat`); plain Levenshtein, which the small npm libraries (leven, fastest-levenshtein) compute, counts it
 * as two and then ties `exce` between `exec` and `once`. Letter case is ignored (`OnFailure` is `onFailure`).
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  // Three rows of the classic table: the one before the previous is what a swap reaches back to.
  let before: number[] = [];
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
    }
    before = prev;
    prev = row;
  }
  return prev[t.length]!;
}

/**
 * The known words nearest to `word`, within a third of its length (at least 1, at most 3 edits): all of them
 * when several are as near, none when nothing is near enough to be a typo of it.
 */
export function nearestWords(word: string, known: readonly string[]): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best = limit + 1;
  let out: string[] = [];
  for (const candidate of known) {
    if (candidate === word) continue;
    // A distance is at least the difference in length: an unknown key of a megabyte costs nothing here.
    if (Math.abs(candidate.length - word.length) > limit) continue;
    const d = editDistance(word, candidate);
    if (d > limit) continue;
    if (d < best) [best, out] = [d, [candidate]];
    else if (d === best) out.push(candidate);
  }
  return out;
}

/** `; did you mean "x"?` (or `"x" or "y"`) for a message's end; empty when nothing is near. */
export function didYouMean(word: string, known: readonly string[], what = ''): string {
  const near = nearestWords(word, known);
  if (near.length === 0) return '';
  return `; did you mean ${what}${near.map((w) => JSON.stringify(w)).join(' or ')}?`;
}
