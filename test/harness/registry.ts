// Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free port> with storage
// in a temp dir and optional htpasswd basic auth. halt()/restart() keep the port and
// the storage, so a test can make the registry "go away mid-pull" and come back.
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { exited, freePort, readLog, removeDir, run, startDaemon, stopChild, tempDir, waitFor, WaitAbort } from './proc.js'
import { which } from './require-real.js'

export interface Credentials {
  user: string
  password: string
}

export interface RegistryOptions {
  /** Turn on htpasswd basic auth with this one user. */
  auth?: Credentials
  port?: number
  /**
   * Run inside the network namespace of this host PID (a container's leader), so
   * a container with --private-network can pull from 127.0.0.1:PORT (default 5000).
   * The host cannot reach it: push with pushImage(..., { netnsPid }).
   */
  netnsPid?: number
}

export interface Registry {
  /** '127.0.0.1:PORT' */
  host: string
  port: number
  url: string
  auth: Credentials | undefined
  netnsPid: number | undefined
  dir: string
  storageDir: string
  logFile: string
  pid(): number | undefined
  running(): boolean
  /** Stop the process but keep port and storage (default SIGKILL: connections are cut, not drained). */
  halt(signal?: NodeJS.Signals): Promise<void>
  /** Start again on the same port and storage (halts first if still running). */
  restart(): Promise<void>
  /** SIGSTOP / SIGCONT: the registry hangs with connections open, then resumes. */
  freeze(): void
  thaw(): void
  log(): Promise<string>
  /** Kill the process and remove the temp dir, storage included. */
  stop(): Promise<void>
}

// bcrypt's base64 is plain base64 with another alphabet, so mapping characters
// converts between them (bits and padding are laid out identically).
const std = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const bcryptAlphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
function bcryptSalt(): string {
  return [...randomBytes(16).toString('base64').replace(/=+$/, '')].map((c) => bcryptAlphabet[std.indexOf(c)]).join('')
}

/**
 * One `user:$2b$...` htpasswd line (the registry only accepts bcrypt). Uses
 * `htpasswd -B` when apache2-utils is installed, otherwise libc crypt(3) through
 * perl: Debian's libxcrypt implements bcrypt and perl-base is always installed.
 */
export async function htpasswdLine(user: string, password: string): Promise<string> {
  if (await which('htpasswd')) {
    const r = await run('htpasswd', ['-nbB', '-C', '5', user, password])
    if (r.code === 0) return r.stdout.trim()
  }
  const salt = `$2b$05$${bcryptSalt()}`
  const r = await run('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, salt])
  if (r.code !== 0 || !r.stdout.startsWith('$2b$05$') || r.stdout.length !== 60) {
    throw new Error(`cannot make a bcrypt hash (perl crypt gave ${JSON.stringify(r.stdout)} ${r.stderr}); install apache2-utils for htpasswd`)
  }
  return `${user}:${r.stdout}`
}

function registryConfig(port: number, storageDir: string, htpasswdFile: string | undefined): string {
  const auth = htpasswdFile ? `auth:\n  htpasswd:\n    realm: postjoin-test\n    path: ${htpasswdFile}\n` : ''
  // A fixed http.secret keeps upload state valid across restart(); upload purging
  // is off so no background job touches storage during a test.
  return `version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: ${storageDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${port}
  secret: postjoin-test-secret
${auth}`
}

/** GET /v2/ status code, or 0 when nothing answers. */
export function v2Status(host: string, timeoutMs = 2_000): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: Number(host.split(':')[1]), path: '/v2/', timeout: timeoutMs }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(0))
    req.end()
  })
}

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = await tempDir('reg')
  const storageDir = join(dir, 'storage')
  await mkdir(storageDir)
  const logFile = join(dir, 'registry.log')
  let htpasswdFile: string | undefined
  if (opts.auth) {
    htpasswdFile = join(dir, 'htpasswd')
    await writeFile(htpasswdFile, `${await htpasswdLine(opts.auth.user, opts.auth.password)}\n`)
  }
  const netns = opts.netnsPid === undefined ? [] : ['nsenter', '-t', String(opts.netnsPid), '-n', '--']
  let port = opts.port ?? (netns.length ? 5000 : await freePort())
  let host = `127.0.0.1:${port}`
  const configPath = join(dir, 'config.yml')

  let child: ChildProcess | undefined
  const start = async () => {
    await writeFile(configPath, registryConfig(port, storageDir, htpasswdFile))
    // The log is kept across restarts; readiness looks only at what this start wrote.
    const offset = (await stat(logFile).catch(() => ({ size: 0 }))).size
    const thisStart = async () => (await readFile(logFile)).subarray(offset).toString()
    const [cmd = '', ...args] = [...netns, 'docker-registry', 'serve', configPath]
    child = await startDaemon(cmd, args, { logFile })
    const c = child
    await waitFor(`docker-registry on ${host}`, async () => {
      if (exited(c)) throw new WaitAbort(`docker-registry exited with ${c.exitCode ?? c.signalCode}`)
      // Our own log line first: a parallel test's server may have taken the port.
      // It logs this right after listen(), so in a netns (unreachable from here) it is enough.
      if (!(await thisStart()).includes(`listening on ${host}`)) return false
      if (netns.length) return true
      const code = await v2Status(host)
      return code === 200 || code === 401
    }, { timeoutMs: 20_000, intervalMs: 50, detail: () => readLog(logFile) })
  }
  const halt = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child) {
      if (child.signalCode === null && child.exitCode === null) child.kill('SIGCONT')
      await stopChild(child, signal)
    }
    child = undefined
  }
  const stop = async () => {
    await halt()
    await removeDir(dir)
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await start()
      break
    } catch (e) {
      // freePort() is racy against parallel tests; pick another port and retry.
      const taken = (await readLog(logFile)).includes('address already in use')
      await halt()
      if (!taken || opts.port !== undefined || netns.length || attempt >= 3) {
        await removeDir(dir)
        throw e
      }
      port = await freePort()
      host = `127.0.0.1:${port}`
    }
  }
  return {
    host, port, url: `http://${host}`, auth: opts.auth, netnsPid: opts.netnsPid, dir, storageDir, logFile,
    pid: () => child?.pid,
    running: () => child !== undefined && !exited(child),
    halt,
    restart: async () => {
      await halt()
      await start()
    },
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
    log: () => readLog(logFile),
    stop,
  }
}
