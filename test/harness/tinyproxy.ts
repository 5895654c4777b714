// A real forward proxy, Debian's tinyproxy, for the proxy tests: on 127.0.0.1 of this host (targets given as IP
// addresses only, so that it never asks the host's resolver), or inside a network namespace the test made
// (`netnsPid`), optionally in a mount namespace of its own whose /etc/hosts is `hostsFile`: names only it resolves.
// Its log (LogLevel Connect) names every request it handled; requests() reads them back.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freePort, readLog, run, startDaemon, stopChild, waitFor } from './proc.js'

export interface TinyproxyOptions {
  /** Where its config and log go (the caller's temp dir). */
  dir: string
  /** Default: a free port on this host's 127.0.0.1. */
  port?: number
  /** Run inside this process's network namespace. */
  netnsPid?: number
  /** With netnsPid: bind-mounted over /etc/hosts for tinyproxy alone. */
  hostsFile?: string
  /** BasicAuth: without these credentials every request gets 407. */
  basicAuth?: { user: string; password: string }
  /** ConnectPort lines: a CONNECT to any other port gets 403. */
  connectPorts?: number[]
}

export interface Tinyproxy {
  /** http://127.0.0.1:PORT */
  url: string
  port: number
  pid: number
  log(): Promise<string>
  /** "CONNECT host:port" and "GET http://host:port/path", in the order tinyproxy read them. */
  requests(): Promise<string[]>
  stop(): Promise<void>
}

let n = 0

export async function startTinyproxy(opts: TinyproxyOptions): Promise<Tinyproxy> {
  const port = opts.port ?? (await freePort())
  const name = `tinyproxy-${process.pid}-${++n}`
  const conf = join(opts.dir, `${name}.conf`)
  const logFile = join(opts.dir, `${name}.log`)
  const lines = ['Listen 127.0.0.1', `Port ${port}`, 'Timeout 30', 'MaxClients 20', 'LogLevel Connect']
  if (opts.basicAuth) lines.push(`BasicAuth ${opts.basicAuth.user} ${opts.basicAuth.password}`)
  for (const p of opts.connectPorts ?? []) lines.push(`ConnectPort ${p}`)
  await writeFile(conf, `${lines.join('\n')}\n`)
  const inNs = (cmd: string[]) => (opts.netnsPid === undefined ? cmd : ['nsenter', '-t', String(opts.netnsPid), '-n', '--', ...cmd])
  const tiny = ['tinyproxy', '-d', '-c', conf]
  // The hosts file is bound in a mount namespace of tinyproxy's own: nothing else sees those names.
  const cmd = opts.hostsFile
    ? inNs(['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" /etc/hosts && shift && exec "$@"', 'sh', opts.hostsFile, ...tiny])
    : inNs(tiny)
  const child = await startDaemon(cmd[0]!, cmd.slice(1), { logFile })
  const log = () => readLog(logFile, 1 << 20)
  const probe = inNs(['bash', '-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`])
  await waitFor(`${name} listening on 127.0.0.1:${port}`, async () => (await run(probe[0]!, probe.slice(1))).code === 0, { detail: log })
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    log,
    async requests() {
      return [...(await log()).matchAll(/Request \(file descriptor \d+\): (\S+ \S+)/g)].map((m) => m[1]!)
    },
    stop: () => stopChild(child),
  }
}
