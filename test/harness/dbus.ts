// A private dbus-daemon on a unix socket in a temp dir. Its address can be handed to
// the code under test as DBUS_SYSTEM_BUS_ADDRESS.
//
// We write our own session-style config instead of `--session` so the bus has no
// service directories: a call to a name nobody owns (e.g. org.freedesktop.systemd1)
// then fails at once with NameHasNoOwner instead of trying D-Bus activation.
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { readLog, removeDir, startDaemon, stopChild, tempDir, waitFor, WaitAbort, exited } from './proc.js'

export interface PrivateBus {
  /** e.g. unix:path=/tmp/postjoin-dbus-XXXX/bus */
  address: string
  socketPath: string
  pid: number
  dir: string
  /** Environment additions that point a D-Bus client at this bus as the system bus. */
  env: { DBUS_SYSTEM_BUS_ADDRESS: string }
  stop(): Promise<void>
}

const config = (socketPath: string) => `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(path)
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => resolve(false))
  })
}

export async function startDbus(): Promise<PrivateBus> {
  const dir = await tempDir('dbus')
  const socketPath = join(dir, 'bus')
  const configPath = join(dir, 'bus.conf')
  const logFile = join(dir, 'dbus.log')
  await writeFile(configPath, config(socketPath))
  // Foreground (--nofork) so the PID we track is the daemon itself.
  const child = await startDaemon('dbus-daemon', ['--config-file', configPath, '--nofork', '--nopidfile', '--nosyslog'], {
    logFile,
  })
  const stop = async () => {
    await stopChild(child)
    await removeDir(dir)
  }
  try {
    await waitFor('dbus-daemon socket', async () => {
      if (exited(child)) throw new WaitAbort(`dbus-daemon exited with ${child.exitCode ?? child.signalCode}`)
      return canConnect(socketPath)
    }, {
      timeoutMs: 10_000,
      intervalMs: 20,
      detail: () => readLog(logFile),
    })
  } catch (e) {
    await stop()
    throw e
  }
  const address = `unix:path=${socketPath}`
  return { address, socketPath, pid: child.pid ?? 0, dir, env: { DBUS_SYSTEM_BUS_ADDRESS: address }, stop }
}
