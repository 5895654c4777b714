// Tests against real components skip LOUDLY when a component is missing (a laptop
// without root), and fail instead when POSTJOIN_REQUIRE_REAL=1 (CI), so that a
// green CI run always means the real tiers actually ran.
import { access, constants } from 'node:fs/promises'
import { delimiter, join } from 'node:path'

/** The subset of a tap Test that we use; keeps this module free of tap's types. */
export interface TestLike {
  comment(...args: unknown[]): void
  pass(message: string, extra: { skip: string }): unknown
  fail(message: string): unknown
}

export function realRequired(): boolean {
  return process.env.POSTJOIN_REQUIRE_REAL === '1'
}

/** Absolute path of an executable on PATH (plus the sbin dirs, which a non-login root PATH may lack), or undefined. */
export async function which(bin: string): Promise<string | undefined> {
  if (bin.includes('/')) return (await isExecutable(bin)) ? bin : undefined
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean)
  for (const extra of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!dirs.includes(extra)) dirs.push(extra)
  }
  for (const dir of dirs) {
    const p = join(dir, bin)
    if (await isExecutable(p)) return p
  }
  return undefined
}

async function isExecutable(p: string): Promise<boolean> {
  try {
    await access(p, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

/**
 * Returns true when `what` is available. Otherwise skips (or, with
 * POSTJOIN_REQUIRE_REAL=1, fails) the test with a message naming what is missing
 * and how to install it, and returns false; the caller should then return.
 *
 *   if (!(await requireReal(t, 'containerd', async () => !!(await which('containerd')), 'apt-get install -y containerd'))) return
 */
export async function requireReal(
  t: TestLike,
  what: string,
  check: () => boolean | Promise<boolean>,
  howToInstall: string,
): Promise<boolean> {
  let ok = false
  let why = ''
  try {
    ok = await check()
  } catch (e) {
    why = ` (check threw: ${e instanceof Error ? e.message : String(e)})`
  }
  if (ok) return true
  const msg = `MISSING REAL COMPONENT: ${what}${why}. To get it: ${howToInstall}`
  t.comment(msg)
  if (realRequired()) t.fail(`${msg} (POSTJOIN_REQUIRE_REAL=1 turns this skip into a failure)`)
  // An assertion marked SKIP (tap 21's t.skip() declares a subtest instead).
  else t.pass(what, { skip: msg })
  return false
}

/** requireReal for root plus a set of binaries: { binary: 'apt package' }. */
export async function requireRootAndBins(t: TestLike, bins: Record<string, string>): Promise<boolean> {
  if (!(await requireReal(t, 'root', isRoot, 'run the tests as root (sudo -E npm test)'))) return false
  for (const [bin, pkg] of Object.entries(bins)) {
    const ok = await requireReal(t, `${bin} binary`, async () => (await which(bin)) !== undefined, `apt-get install -y --no-install-recommends ${pkg}`)
    if (!ok) return false
  }
  return true
}
