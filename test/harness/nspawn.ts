// Boots the cached Debian rootfs with real systemd in systemd-nspawn, with the
// test's units overlaid on the container's /etc/systemd/system.
//
// Traps handled here (see docs/test-harness.md):
// - `--register=no --keep-unit` are required: this host's PID 1 is not systemd and
//   without them nspawn exits at once with "Failed to open system bus".
// - With --keep-unit nspawn creates `payload`/`supervisor` cgroups next to itself.
//   Started from the root cgroup, two containers would share /sys/fs/cgroup/*/payload,
//   so we first move nspawn into its own `postjoin-PID-NAME` cgroup. That also lets
//   stop() kill exactly this container (cgroup.kill) and rmdir only its own cgroups.
// - Overlay source paths are HOST paths unless prefixed with '+': the layer under
//   the test's units is `+/etc/systemd/system` (the image's), not the host's.
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { access, chmod, mkdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { exited, readLog, removeDir, rmdirTree, run, runOk, startDaemon, stopChild, tempDir, waitFor, WaitAbort, type RunResult } from './proc.js'
import { which } from './require-real.js'

export const defaultRootfs = process.env.POSTJOIN_ROOTFS ?? '/var/cache/postjoin-test/rootfs'

export interface Bind {
  host: string
  container: string
  ro?: boolean
}

export interface BootOptions {
  rootfs?: string
  /** Machine name; default pj-<our pid>-<random>. */
  name?: string
  /** Unit files written into the overlaid /etc/systemd/system: file name -> content. */
  units?: Record<string, string>
  /** A host dir whose files are copied into the overlaid /etc/systemd/system first. */
  unitsDir?: string
  /** Units to start at boot: linked into `<target>.wants/` for each WantedBy= (default multi-user.target). */
  enable?: string[]
  /**
   * Make the overlaid /etc/systemd/system writable (writes land in this boot's temp dir), for code that
   * enables units (`systemctl enable`, EnableUnitFiles). Default read-only.
   */
  writableUnits?: boolean
  binds?: Bind[]
  /** Files bound read-only into the container: container path -> content (mode 0644, or 0755 if it starts with #!). */
  extraFiles?: Record<string, string>
  /** Host dir bound as the container's /var/lib/postjoin; survives across boots. */
  stateDir?: string
  /** Extra systemd-nspawn arguments, e.g. ['--capability=all', '--setenv=X=1']. */
  extraArgs?: string[]
  bootTimeoutMs?: number
  /**
   * read-only (default): the console is a pty, so systemd prints its boot and
   * shutdown status lines into the console log that boot errors quote. With `pipe`
   * (no tty) systemd prints nothing there.
   */
  console?: 'read-only' | 'pipe'
}

export interface ExecOptions {
  input?: string
  /** Container environment (on top of a clean PATH/LANG); the host's is never passed in. */
  env?: Record<string, string>
  timeoutMs?: number
}

export interface NetnsProcess {
  pid: number
  child: ChildProcess
  stop(): Promise<void>
}

export interface Container {
  name: string
  dir: string
  /** PID of systemd-nspawn on the host. */
  pid: number
  /** Host PID of the container's PID 1 (systemd). */
  leader: number
  /** unix:path=<dir>/run-dbus/system_bus_socket: the container's system bus, from the host. */
  busAddress: string
  bootMs: number
  /** The container's own cgroups on the host (removed by stop()). */
  cgroups: string[]
  exec(cmd: string[], opts?: ExecOptions): Promise<RunResult>
  systemctl(...args: string[]): Promise<RunResult>
  /** journalctl -u UNIT (with -o cat unless extraArgs pick an output). */
  journal(unit: string, extraArgs?: string[]): Promise<string>
  /** Run a HOST command inside the container's network namespace only. */
  netExec(cmd: string[], opts?: ExecOptions): Promise<RunResult>
  /** Start a long-running HOST command (e.g. an emulator) in the container's netns. */
  spawnInNetns(cmd: string[], logFile?: string): Promise<NetnsProcess>
  /** e.g. addAddress('169.254.169.254/32'): only inside the container's netns. */
  addAddress(cidr: string, dev?: string): Promise<void>
  /** Host path of a path inside the running container (/proc/LEADER/root/...), e.g. its containerd socket. */
  hostPath(containerPath: string): string
  consoleLog(): Promise<string>
  stop(): Promise<void>
}

const cleanPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export async function rootfsReady(rootfs = defaultRootfs): Promise<boolean> {
  for (const p of ['usr/lib/systemd/systemd', 'lib/systemd/systemd']) {
    try {
      await access(join(rootfs, p))
      return true
    } catch {}
  }
  return false
}

/** Bind a host binary read-only into the container (default /usr/local/bin/<name>). */
export async function hostBinary(bin: string, containerPath?: string): Promise<Bind> {
  const found = await which(bin)
  if (!found) throw new Error(`${bin} not found on the host`)
  return { host: await realpath(found), container: containerPath ?? `/usr/local/bin/${basename(bin)}`, ro: true }
}

/** The binaries a containerd.service inside the container needs. */
export async function containerdBinaries(): Promise<Bind[]> {
  return Promise.all(['containerd', 'containerd-shim-runc-v2', 'ctr', 'runc'].map((b) => hostBinary(b)))
}

/**
 * A containerd.service for the container, running the bound host binary (see
 * containerdBinaries()). Bind a host dir at /var/lib/containerd too: overlayfs
 * snapshots cannot stack on the --volatile=overlay root.
 */
export const containerdUnit = `[Unit]
Description=containerd (host binary, test harness)
[Service]
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
[Install]
WantedBy=multi-user.target
`

const escapeArg = (p: string) => p.replace(/\\/g, '\\\\').replace(/:/g, '\\:')

async function cgroupRoots(): Promise<string[]> {
  const exists = (p: string) => access(p).then(() => true, () => false)
  if (await exists('/sys/fs/cgroup/cgroup.subtree_control')) return ['/sys/fs/cgroup'] // pure cgroup v2
  const roots: string[] = []
  for (const h of ['unified', 'systemd']) if (await exists(`/sys/fs/cgroup/${h}/cgroup.procs`)) roots.push(`/sys/fs/cgroup/${h}`)
  return roots
}

async function prepareUnits(dir: string, opts: BootOptions): Promise<void> {
  const units = join(dir, 'units')
  await mkdir(units, { recursive: true })
  if (opts.unitsDir) await runOk('cp', ['-a', `${opts.unitsDir}/.`, units])
  for (const [file, content] of Object.entries(opts.units ?? {})) {
    // A drop-in (`x.service.d/10-y.conf`) needs its directory.
    await mkdir(dirname(join(units, file)), { recursive: true })
    await writeFile(join(units, file), content)
  }
  for (const unit of opts.enable ?? []) {
    const text = await readFile(join(units, unit), 'utf8').catch(() => '')
    const wanted = [...text.matchAll(/^WantedBy=(.+)$/gm)].flatMap((m) => (m[1] ?? '').trim().split(/\s+/))
    for (const target of wanted.length ? wanted : ['multi-user.target']) {
      await mkdir(join(units, `${target}.wants`), { recursive: true })
      await symlink(`/etc/systemd/system/${unit}`, join(units, `${target}.wants`, unit)).catch(() => {})
    }
  }
}

const liveCgroups = new Set<string>()
process.on('exit', () => {
  // A test that dies without stop(): SIGKILL only the processes of our own containers.
  for (const cg of liveCgroups) {
    try {
      writeFileSync(join(cg, 'cgroup.kill'), '1')
    } catch {}
  }
})

export async function bootContainer(opts: BootOptions = {}): Promise<Container> {
  const rootfs = opts.rootfs ?? defaultRootfs
  const name = opts.name ?? `pj-${process.pid}-${randomBytes(3).toString('hex')}`
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(name)) throw new Error(`bad machine name ${name}`)
  const dir = await tempDir('nsp')
  const runDbus = join(dir, 'run-dbus')
  await mkdir(runDbus)
  await prepareUnits(dir, opts)
  const binds: Bind[] = [...(opts.binds ?? [])]
  if (opts.stateDir) {
    await mkdir(opts.stateDir, { recursive: true })
    binds.push({ host: opts.stateDir, container: '/var/lib/postjoin' })
  }
  let n = 0
  for (const [target, content] of Object.entries(opts.extraFiles ?? {})) {
    const host = join(dir, 'files', `${n++}-${basename(target)}`)
    await mkdir(dirname(host), { recursive: true })
    await writeFile(host, content)
    await chmod(host, content.startsWith('#!') ? 0o755 : 0o644)
    binds.push({ host, container: target, ro: true })
  }
  const args = [
    '-D', rootfs, '-M', name, '--boot', '--register=no', '--keep-unit', '--private-network',
    '--volatile=overlay', `--console=${opts.console ?? 'read-only'}`, `--bind=${escapeArg(runDbus)}:/run/dbus`,
    `--overlay${opts.writableUnits ? '' : '-ro'}=+/etc/systemd/system:${escapeArg(join(dir, 'units'))}:/etc/systemd/system`,
    ...binds.map((b) => `--bind${b.ro ? '-ro' : ''}=${escapeArg(b.host)}:${escapeArg(b.container)}`),
    ...(opts.extraArgs ?? []),
  ]
  const cgroups = (await cgroupRoots()).map((r) => join(r, `postjoin-${process.pid}-${name}`))
  for (const cg of cgroups) await mkdir(cg)
  cgroups.forEach((cg) => liveCgroups.add(cg))
  const consoleFile = join(dir, 'console.log')
  const t0 = Date.now()
  const child = await startDaemon('/bin/sh', ['-c', 'for cg in $PJ_CGROUPS; do echo $$ > "$cg/cgroup.procs" || exit 97; done; exec "$0" "$@"', 'systemd-nspawn', ...args], {
    logFile: consoleFile,
    env: { ...process.env, PJ_CGROUPS: cgroups.join(' ') },
  })
  const consoleLog = async () => (await readLog(consoleFile, 64_000)).replace(/\x1b\[[0-9;]*[A-Za-z]/g, '')
  const netnsProcs = new Set<NetnsProcess>()
  let netnsCount = 0
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    for (const p of netnsProcs) await p.stop()
    // SIGTERM makes nspawn ask the container's systemd for a clean halt (~1.8 s).
    await stopChild(child, 'SIGTERM', 20_000)
    const unified = cgroups.find((cg) => !cg.includes('/systemd/'))
    if (unified) await writeFile(join(unified, 'cgroup.kill'), '1').catch(() => {})
    await rm(`/run/systemd/nspawn/propagate/${name}`, { recursive: true, force: true })
    for (const cg of cgroups) {
      await waitFor(`cgroup ${cg} to empty`, async () => (await readFile(join(cg, 'cgroup.procs'), 'utf8').catch(() => '')).trim() === '', { timeoutMs: 5_000 }).catch(() => {})
      await rmdirTree(cg)
      liveCgroups.delete(cg)
    }
    await removeDir(dir)
  }
  try {
    const leader = await waitFor('the container PID 1', async () => {
      if (exited(child)) throw new WaitAbort(`systemd-nspawn exited with ${child.exitCode ?? child.signalCode}`)
      const r = await run('pgrep', ['-P', String(child.pid), '-x', 'systemd'])
      return r.code === 0 ? Number(r.stdout.trim().split('\n')[0]) : undefined
    }, { timeoutMs: 20_000, detail: consoleLog })
    const exec = (cmd: string[], o: ExecOptions = {}) => {
      const env = Object.entries({ PATH: cleanPath, LANG: 'C.UTF-8', ...o.env }).map(([k, v]) => `${k}=${v}`)
      return run('nsenter', ['-t', String(leader), '-a', '--', '/usr/bin/env', '-i', ...env, ...cmd], { input: o.input, timeoutMs: o.timeoutMs })
    }
    let state = ''
    await waitFor('the container to reach running or degraded', async () => {
      if (exited(child)) throw new WaitAbort(`systemd-nspawn exited with ${child.exitCode ?? child.signalCode}`)
      state = (await exec(['systemctl', 'is-system-running'], { timeoutMs: 10_000 })).stdout.trim()
      return state === 'running' || state === 'degraded'
    }, { timeoutMs: opts.bootTimeoutMs ?? 60_000, detail: async () => `last state: ${state}\n--- console ---\n${await consoleLog()}` })
    const bootMs = Date.now() - t0
    const netExec = (cmd: string[], o: ExecOptions = {}) =>
      run('nsenter', ['-t', String(leader), '-n', '--', ...cmd], { input: o.input, timeoutMs: o.timeoutMs, env: { ...process.env, ...o.env } })
    return {
      name, dir, pid: child.pid ?? 0, leader, bootMs, cgroups, busAddress: `unix:path=${join(runDbus, 'system_bus_socket')}`,
      exec,
      systemctl: (...a: string[]) => exec(['systemctl', ...a]),
      journal: async (unit: string, extra: string[] = []) => {
        const output = extra.some((a) => a === '-o' || a.startsWith('--output')) ? [] : ['-o', 'cat']
        return (await exec(['journalctl', '--no-pager', '-u', unit, ...output, ...extra])).stdout
      },
      netExec,
      spawnInNetns: async (cmd: string[], logFile?: string) => {
        const c = await startDaemon('nsenter', ['-t', String(leader), '-n', '--', ...cmd], { logFile: logFile ?? join(dir, `netns-${netnsCount++}.log`) })
        const p: NetnsProcess = { pid: c.pid ?? 0, child: c, stop: async () => { netnsProcs.delete(p); await stopChild(c) } }
        netnsProcs.add(p)
        return p
      },
      addAddress: async (cidr: string, dev = 'lo') => {
        await runOk('nsenter', ['-t', String(leader), '-n', '--', 'ip', 'link', 'set', dev, 'up'])
        await runOk('nsenter', ['-t', String(leader), '-n', '--', 'ip', 'addr', 'replace', cidr, 'dev', dev])
      },
      hostPath: (p: string) => `/proc/${leader}/root${p.startsWith('/') ? '' : '/'}${p}`,
      consoleLog,
      stop,
    }
  } catch (e) {
    await stop()
    throw e
  }
}
