// A real containerd with its own root, state, socket and registry hosts dir, so a
// test never touches the host's /var/lib/containerd or /run/containerd.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { exited, readLog, removeDir, run, runOk, startDaemon, stopChild, tempDir, unmountUnder, waitFor, WaitAbort, type RunOptions, type RunResult } from './proc.js'

export interface ContainerdOptions {
  /** Registry hosts dir (`<host>/hosts.toml`) for the CRI plugin. Default: `<tmp>/certs.d`, created empty. */
  hostsDir?: string
  /** Extra TOML appended to the generated config. */
  extraConfig?: string
  logLevel?: 'debug' | 'info' | 'warn'
  readyTimeoutMs?: number
}

export interface Containerd {
  socket: string
  root: string
  state: string
  hostsDir: string
  configPath: string
  logFile: string
  dir: string
  pid: number
  /** `ctr -a SOCKET [-n NAMESPACE] ...args`; never throws on a non-zero exit. */
  ctr(args: string[], opts?: RunOptions & { namespace?: string }): Promise<RunResult>
  log(): Promise<string>
  stop(): Promise<void>
}

/**
 * Set `key = value` inside `[section]` ('' = top level) of containerd's default
 * config. Throws when the key is not there, so a changed default config fails
 * loudly rather than silently using host paths.
 */
export function setTomlKey(toml: string, section: string, key: string, value: string): string {
  const lines = toml.split('\n')
  let current = ''
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    const header = /^\s*\[([^[\]]+)\]\s*$/.exec(line)
    if (header) {
      current = header[1] ?? ''
      continue
    }
    const m = /^(\s*)([\w.-]+)\s*=/.exec(line)
    if (current === section && m && m[2] === key) {
      lines[i] = `${m[1] ?? ''}${key} = ${value}`
      return lines.join('\n')
    }
  }
  throw new Error(`containerd default config has no ${key} in [${section}]`)
}

const q = (s: string) => JSON.stringify(s)
const cri = 'plugins."io.containerd.grpc.v1.cri"'

export async function containerdConfig(dir: string, hostsDir: string, logLevel: string): Promise<string> {
  let toml = (await runOk('containerd', ['config', 'default'])).stdout
  toml = setTomlKey(toml, '', 'root', q(join(dir, 'root')))
  toml = setTomlKey(toml, '', 'state', q(join(dir, 'state')))
  // devmapper is not configured here; it only adds a "failed to load plugin" warning.
  toml = setTomlKey(toml, '', 'disabled_plugins', '["io.containerd.snapshotter.v1.devmapper"]')
  toml = setTomlKey(toml, 'grpc', 'address', q(join(dir, 'containerd.sock')))
  toml = setTomlKey(toml, 'debug', 'level', q(logLevel))
  // The opt plugin would otherwise create /opt/containerd on the host.
  toml = setTomlKey(toml, 'plugins."io.containerd.internal.v1.opt"', 'path', q(join(dir, 'opt')))
  toml = setTomlKey(toml, `${cri}.registry`, 'config_path', q(hostsDir))
  // Keep the host's CNI config out; NetworkReady=false is expected and harmless.
  toml = setTomlKey(toml, `${cri}.cni`, 'conf_dir', q(join(dir, 'cni')))
  return toml
}

export async function startContainerd(opts: ContainerdOptions = {}): Promise<Containerd> {
  const dir = await tempDir('ctd')
  const hostsDir = opts.hostsDir ?? join(dir, 'certs.d')
  await mkdir(hostsDir, { recursive: true })
  await mkdir(join(dir, 'cni'), { recursive: true })
  const configPath = join(dir, 'config.toml')
  const logFile = join(dir, 'containerd.log')
  const socket = join(dir, 'containerd.sock')
  let toml = await containerdConfig(dir, hostsDir, opts.logLevel ?? 'info')
  if (opts.extraConfig) toml += `\n${opts.extraConfig}\n`
  await writeFile(configPath, toml)

  const child = await startDaemon('containerd', ['--config', configPath], { logFile })
  const ctr = (args: string[], o: RunOptions & { namespace?: string } = {}) =>
    run('ctr', ['-a', socket, ...(o.namespace ? ['-n', o.namespace] : []), ...args], o)
  const stop = async () => {
    await stopChild(child)
    // Snapshot or shm mounts may remain below root/state if a test ran containers.
    await unmountUnder(dir)
    await removeDir(dir)
  }
  try {
    await waitFor('containerd to answer ctr version', async () => {
      if (exited(child)) throw new WaitAbort(`containerd exited with ${child.exitCode ?? child.signalCode}`)
      return (await ctr(['version'], { timeoutMs: 5_000 })).code === 0
    }, { timeoutMs: opts.readyTimeoutMs ?? 20_000, intervalMs: 50, detail: () => readLog(logFile) })
  } catch (e) {
    await stop()
    throw e
  }
  return {
    socket, root: join(dir, 'root'), state: join(dir, 'state'), hostsDir, configPath, logFile, dir,
    pid: child.pid ?? 0, ctr, log: () => readLog(logFile), stop,
  }
}

/** Write `<hostsDir>/<host>/hosts.toml` for a plain-HTTP registry on loopback. */
export async function writePlainHttpHosts(hostsDir: string, host: string): Promise<string> {
  const d = join(hostsDir, host)
  await mkdir(d, { recursive: true })
  const file = join(d, 'hosts.toml')
  await writeFile(file, `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve", "push"]\n  skip_verify = true\n`)
  return file
}
