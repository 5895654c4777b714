/** Shell-style globs for policy allow-lists: `*` is any run of characters, `?` is one. Nothing else is special. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** An empty list allows everything (design §4). */
export function allowedByGlobs(value: string, globs: readonly string[]): boolean {
  return globs.length === 0 || globs.some((g) => globToRegExp(g).test(value));
}
