// Process helpers shared by the harness modules. Every daemon a harness starts goes
// through startDaemon(), so that a test that crashes or times out still takes down
// exactly the PIDs it started (and nothing else), and its leftovers get swept.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, open, readdir, readFile, rm, rmdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface RunOptions {
  input?: string | Buffer
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Kill the command (SIGKILL, only this PID) after this many ms. Default 60 s. */
  timeoutMs?: number
}

/** Run a command to completion; never throws on a non-zero exit (code 128+N for signal N). */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: 'pipe' })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(new Error(`cannot run ${cmd}: ${e.message}`))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      const sig = signal ? 128 + constants.signals[signal] : 0
      resolve({ code: code ?? sig, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    // EPIPE when the command does not read its stdin is not our failure.
    child.stdin.on('error', () => {})
    child.stdin.end(opts.input ?? '')
  })
}

/** Like run(), but throws with the command line and stderr when the exit code is not 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}\n${r.stderr.trim()}\n${r.stdout.trim()}`.trim())
  }
  return r
}

const live = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

let setprivOk: Promise<boolean> | undefined
const haveSetpriv = () => (setprivOk ??= run('setpriv', ['--help']).then((r) => r.code === 0 && r.stdout.includes('--pdeathsig'), () => false))

/**
 * Start a long-running process with stdout+stderr appended to logFile.
 *
 * The 'exit' hook above does not run when the test process dies by a signal (tap's
 * timeout kills it with SIGALRM), so daemons are started through
 * `setpriv --pdeathsig SIGTERM` (util-linux): the kernel signals them when the test
 * process dies in any way. setpriv execs the daemon, so the PID stays the same.
 */
export async function startDaemon(
  cmd: string,
  args: string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string; deathSignal?: NodeJS.Signals },
): Promise<ChildProcess> {
  const [file, argv] = (await haveSetpriv())
    ? ['setpriv', ['--pdeathsig', opts.deathSignal ?? 'SIGTERM', '--', cmd, ...args]]
    : [cmd, args]
  const log = await open(opts.logFile, 'a')
  try {
    const child = spawn(file, argv, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', log.fd, log.fd] })
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', (e) => reject(new Error(`cannot start ${cmd}: ${e.message}`)))
    })
    live.add(child)
    child.once('exit', () => live.delete(child))
    return child
  } finally {
    // The child holds its own copy of the descriptor.
    await log.close()
  }
}

export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
}

/** Signal one child we started, wait for it, and SIGKILL it if it outlives timeoutMs. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<void> {
  if (exited(child)) return
  child.kill(signal)
  if (await waitExit(child, timeoutMs)) return
  child.kill('SIGKILL')
  await waitExit(child, 5_000)
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Thrown from a waitFor() callback to stop waiting at once (e.g. the daemon died). */
export class WaitAbort extends Error {}

/**
 * Poll fn until it returns something other than undefined/false, or throw after
 * timeoutMs with `what` and whatever detail() returns (e.g. a daemon's log).
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number; detail?: () => Promise<string> } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000)
  let lastError = ''
  for (;;) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e)
      if (e instanceof WaitAbort) {
        const detail = opts.detail ? await opts.detail().catch((x: unknown) => String(x)) : ''
        throw new Error(`gave up waiting for ${what}: ${lastError}\n${detail}`.trim())
      }
    }
    if (Date.now() > deadline) {
      const detail = opts.detail ? await opts.detail().catch((e: unknown) => String(e)) : ''
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${detail}`.trim())
    }
    await sleep(opts.intervalMs ?? 100)
  }
}

/** A port that was free on 127.0.0.1 a moment ago (listen on 0, read it, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => (port ? resolve(port) : reject(new Error('no port from listen(0)'))))
    })
  })
}

/**
 * A fresh temp dir named pjh-PREFIX-<our pid>-XXXXXX (short: unix socket paths are
 * limited to 108 bytes). The pid lets sweepStale() tell a dead test's leftovers
 * from a running test's dirs; the pjh- marker keeps it away from anyone else's.
 */
export async function tempDir(prefix: string): Promise<string> {
  if (!/^[a-z0-9]+$/.test(prefix)) throw new Error(`tempDir prefix must be [a-z0-9]+: ${prefix}`)
  await (swept ??= sweepStale().catch(() => {}))
  return mkdtemp(join(tmpdir(), `pjh-${prefix}-${process.pid}-`))
}

let swept: Promise<void> | undefined

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Remove what a test process that died without cleanup left behind (its daemons
 * were already signalled via pdeathsig): temp dirs, nspawn cgroups
 * (postjoin-PID-NAME, only if empty: rmdir refuses populated ones) and nspawn
 * propagate dirs (pj-PID-*) whose owner PID is gone. Runs once per process, from tempDir().
 */
export async function sweepStale(): Promise<void> {
  for (const name of await readdir(tmpdir())) {
    const m = /^pjh-[a-z0-9]+-(\d+)-[A-Za-z0-9]{6}$/.exec(name)
    if (!m || alive(Number(m[1]))) continue
    const dir = join(tmpdir(), name)
    await unmountUnder(dir)
    await rm(dir, { recursive: true, force: true }).catch(() => {})
  }
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/systemd']) {
    for (const e of await readdir(root).catch(() => [])) {
      const m = /^postjoin-(\d+)-/.exec(e)
      if (m && !alive(Number(m[1]))) await rmdirTree(join(root, e))
    }
  }
  const propagate = '/run/systemd/nspawn/propagate'
  for (const e of await readdir(propagate).catch(() => [])) {
    const m = /^pj-(\d+)-/.exec(e)
    if (m && !alive(Number(m[1]))) await rm(join(propagate, e), { recursive: true, force: true })
  }
}

/** rmdir a cgroup tree deepest first; populated cgroups stay. */
export async function rmdirTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  for (const e of entries) if (e.isDirectory()) await rmdirTree(join(dir, e.name))
  await rmdir(dir).catch(() => {})
}

/** Unmount (lazily, deepest first) anything mounted below dir, so removing it cannot descend into a mount. */
export async function unmountUnder(dir: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8')
  const points = info.split('\n')
    .map((l) => (l.split(' ')[4] ?? '').replace(/\\040/g, ' '))
    .filter((p) => p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length)
  for (const p of points) await run('umount', ['-l', p])
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}

/** Read a log file for error messages; never throws. */
export async function readLog(path: string, maxBytes = 16_384): Promise<string> {
  try {
    const fh = await open(path, 'r')
    try {
      const { size } = await fh.stat()
      const start = Math.max(0, size - maxBytes)
      const buf = Buffer.alloc(size - start)
      await fh.read(buf, 0, buf.length, start)
      return buf.toString()
    } finally {
      await fh.close()
    }
  } catch {
    return ''
  }
}
