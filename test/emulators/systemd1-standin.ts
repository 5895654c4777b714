// A small stand-in for systemd's D-Bus API (org.freedesktop.systemd1) on a private dbus-daemon, for the
// edge cases that are hard to produce under real systemd: a unit flapping, a job failing or hanging, a
// JobRemoved that overtakes its StartUnit reply, signals that never come, and the bus going away.
// It speaks the same wire API as systemd 252 for the members postjoin uses; the nspawn tier is the proof.
import { Message, MessageType, Variant, sessionBus, type MessageBus } from 'dbus-next'
import { startDbus, type PrivateBus } from '../harness/dbus.js'
import { requireRootAndBins, type TestLike } from '../harness/require-real.js'

const SYSTEMD = 'org.freedesktop.systemd1'
const MANAGER_PATH = '/org/freedesktop/systemd1'
const MANAGER = 'org.freedesktop.systemd1.Manager'
const UNIT = 'org.freedesktop.systemd1.Unit'
const SERVICE = 'org.freedesktop.systemd1.Service'
const PROPERTIES = 'org.freedesktop.DBus.Properties'

export interface StandinUnit {
  name: string
  path: string
  loadState: string
  activeState: string
  subState: string
  /** Service Result. */
  result: string
  /** Has an [Install] section, so EnableUnitFiles creates a link. */
  install: boolean
  enabled: boolean
  /** How long a start or stop job takes before JobRemoved. */
  jobDelayMs: number
  /** The result of the next job(s): 'done', or e.g. 'failed', 'timeout'; 'hang' never finishes. */
  nextJobs: string[]
  /** Unit state after a successful start (e.g. inactive/dead for a oneshot without RemainAfterExit). */
  startedState: [string, string]
  /** Unix ms when the unit last entered `active`. */
  activeSince?: number
}

export interface Systemd1Standin {
  bus: PrivateBus
  /** DBUS_SYSTEM_BUS_ADDRESS for the code under test. */
  env: { DBUS_SYSTEM_BUS_ADDRESS: string }
  /** Declares (or updates) a unit file that exists; units never declared are LoadState=not-found. */
  unit(name: string, init?: Partial<Omit<StandinUnit, 'name' | 'path'>>): StandinUnit
  /** Sets a unit's state and emits PropertiesChanged (unless signals are muted). */
  setState(name: string, activeState: string, subState?: string): void
  /** Switches a unit between the given states every intervalMs; returns the function that stops it. */
  flap(name: string, states: [string, string][], intervalMs: number): () => void
  /** Signals stop (true) or resume (false): only polling can see changes then. */
  muteSignals(muted: boolean): void
  /** Sends JobRemoved before the StartUnit/StopUnit reply, the race a client must survive. */
  jobRemovedBeforeReply(on: boolean): void
  /** Every method called on systemd1, as "Member" or "Member arg", in order. */
  calls: string[]
  /** Kills the dbus-daemon: every connection drops at once. */
  dropBus(): Promise<void>
  stop(): Promise<void>
}

/** systemd's bus_label_escape: every byte that is not [A-Za-z0-9] becomes _xx. */
export function unitPath(name: string): string {
  const label = [...Buffer.from(name)].map((b) => (/[A-Za-z0-9]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`)).join('')
  return `${MANAGER_PATH}/unit/${label}`
}

const VALID_NAME = /^[A-Za-z0-9:_.\\@-]+\.(service|socket|target|timer|mount|path|slice|scope|device|swap|automount)$/

export async function startSystemd1Standin(opts: { bus?: PrivateBus } = {}): Promise<Systemd1Standin> {
  const bus = opts.bus ?? (await startDbus())
  const conn: MessageBus = sessionBus({ busAddress: bus.address })
  conn.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    conn.once('connect', resolve)
    conn.once('error', reject)
  })
  await conn.requestName(SYSTEMD, 0)

  let stopped = false
  /** After stop() the stream is closed and dbus-next throws from send(); late messages are dropped. */
  const send = (m: Message) => {
    if (stopped) return
    try {
      conn.send(m)
    } catch {}
  }
  const units = new Map<string, StandinUnit>()
  const byPath = new Map<string, StandinUnit>()
  const calls: string[] = []
  let muted = false
  let removedFirst = false
  let jobSeq = 0
  const timers = new Set<NodeJS.Timeout>()
  const intervals = new Set<NodeJS.Timeout>()
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t)
      fn()
    }, ms)
    timers.add(t)
  }

  const define = (name: string, init: Partial<StandinUnit> = {}): StandinUnit => {
    const existing = units.get(name)
    const u: StandinUnit = existing ?? {
      name, path: unitPath(name), loadState: 'loaded', activeState: 'inactive', subState: 'dead', result: 'success',
      install: true, enabled: false, jobDelayMs: 5, nextJobs: [], startedState: ['active', 'running'],
    }
    Object.assign(u, init)
    if (u.activeState === 'active') u.activeSince ??= Date.now()
    units.set(name, u)
    byPath.set(u.path, u)
    return u
  }
  /** LoadUnit of an unknown but valid name: systemd answers with a not-found unit object. */
  const load = (name: string): StandinUnit => units.get(name) ?? define(name, { loadState: 'not-found', install: false })

  const emitChanged = (u: StandinUnit) => {
    if (muted) return
    send(Message.newSignal(u.path, PROPERTIES, 'PropertiesChanged', 'sa{sv}as', [
      UNIT,
      { ActiveState: new Variant('s', u.activeState), SubState: new Variant('s', u.subState) },
      [],
    ]))
  }
  const setState = (name: string, activeState: string, subState?: string) => {
    const u = load(name)
    if (activeState === 'active' && u.activeState !== 'active') u.activeSince = Date.now()
    u.activeState = activeState
    u.subState = subState ?? { active: 'running', inactive: 'dead', failed: 'failed', activating: 'start', deactivating: 'stop' }[activeState] ?? activeState
    emitChanged(u)
  }

  const unitProps = (u: StandinUnit): Record<string, Variant> => ({
    Id: new Variant('s', u.name),
    LoadState: new Variant('s', u.loadState),
    ActiveState: new Variant('s', u.activeState),
    SubState: new Variant('s', u.subState),
    ActiveEnterTimestamp: new Variant('t', BigInt((u.activeSince ?? 0) * 1000)),
  })

  const runJob = (msg: Message, u: StandinUnit, action: 'start' | 'stop' | 'restart') => {
    const id = ++jobSeq
    const job = `${MANAGER_PATH}/job/${id}`
    const outcome = u.nextJobs.shift() ?? 'done'
    const removed = () => {
      if (!muted) send(Message.newSignal(MANAGER_PATH, MANAGER, 'JobRemoved', 'uoss', [id, job, u.name, outcome]))
    }
    const finish = () => {
      if (outcome === 'hang') return
      if (action === 'stop') setState(u.name, 'inactive', 'dead')
      else if (outcome === 'done') {
        u.result = 'success'
        setState(u.name, u.startedState[0], u.startedState[1])
      } else {
        u.result = outcome === 'timeout' ? 'timeout' : 'exit-code'
        setState(u.name, 'failed', 'failed')
      }
      removed()
    }
    if (removedFirst && outcome !== 'hang') {
      // The worst order a client can see: state change and JobRemoved before the method reply.
      finish()
      send(Message.newMethodReturn(msg, 'o', [job]))
      return
    }
    send(Message.newMethodReturn(msg, 'o', [job]))
    if (action !== 'stop') setState(u.name, 'activating', 'start')
    else setState(u.name, 'deactivating', 'stop')
    later(u.jobDelayMs, finish)
  }

  const handle = (msg: Message): boolean => {
    if (msg.type !== MessageType.METHOD_CALL || msg.destination !== SYSTEMD) return false
    const reply = (sig = '', body: unknown[] = []) => send(Message.newMethodReturn(msg, sig, body))
    // dbus-next's types declare newError(msg: string, ...); it takes the Message being answered.
    const fail = (name: string, text: string) => send(Message.newError(msg as unknown as string, name, text))
    const arg = typeof msg.body[0] === 'string' ? ` ${msg.body[0]}` : Array.isArray(msg.body[0]) ? ` ${(msg.body[0] as string[]).join(',')}` : ''
    calls.push(`${msg.member}${arg}`)
    if (msg.path === MANAGER_PATH && msg.interface === MANAGER) {
      const name = String(msg.body[0] ?? '')
      switch (msg.member) {
        case 'Subscribe':
        case 'Unsubscribe':
          reply()
          return true
        case 'LoadUnit':
          if (!VALID_NAME.test(name)) fail('org.freedesktop.DBus.Error.InvalidArgs', `Unit name ${name} is not valid.`)
          else reply('o', [load(name).path])
          return true
        case 'GetUnit': {
          // The trap the real systemd sets: inactive units it has garbage-collected are "not loaded".
          const u = units.get(name)
          if (!u || u.activeState === 'inactive') fail('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not loaded.`)
          else reply('o', [u.path])
          return true
        }
        case 'StartUnit':
        case 'StopUnit':
        case 'RestartUnit': {
          const u = units.get(name)
          if (!u || u.loadState !== 'loaded') fail('org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not found.`)
          else runJob(msg, u, msg.member === 'StartUnit' ? 'start' : msg.member === 'StopUnit' ? 'stop' : 'restart')
          return true
        }
        case 'EnableUnitFiles': {
          const names = msg.body[0] as string[]
          const missing = names.find((n) => units.get(n)?.loadState !== 'loaded')
          if (missing) {
            fail('org.freedesktop.DBus.Error.FileNotFound', `Unit file ${missing} does not exist.`)
            return true
          }
          const changes: [string, string, string][] = []
          let carries = false
          for (const n of names) {
            const u = units.get(n)!
            if (!u.install) continue
            carries = true
            if (!u.enabled) changes.push(['symlink', `/etc/systemd/system/multi-user.target.wants/${n}`, `/etc/systemd/system/${n}`])
            u.enabled = true
          }
          reply('ba(sss)', [carries, changes])
          return true
        }
        case 'Reload':
          later(10, () => reply())
          return true
      }
    }
    const u = byPath.get(msg.path)
    if (u && msg.interface === PROPERTIES) {
      const service = u.name.endsWith('.service') ? { Result: new Variant('s', u.result) } : undefined
      const props = (iface: string): Record<string, Variant> | undefined => (iface === UNIT ? unitProps(u) : iface === SERVICE ? service : undefined)
      if (msg.member === 'GetAll') {
        const p = props(String(msg.body[0]))
        if (p) reply('a{sv}', [p])
        else fail('org.freedesktop.DBus.Error.UnknownInterface', `Unknown interface ${String(msg.body[0])}.`)
        return true
      }
      if (msg.member === 'Get') {
        const v = props(String(msg.body[0]))?.[String(msg.body[1])]
        if (v) reply('v', [v])
        else fail('org.freedesktop.DBus.Error.UnknownProperty', `Unknown property ${String(msg.body[1])}.`)
        return true
      }
    }
    fail('org.freedesktop.DBus.Error.UnknownMethod', `Unknown method ${msg.member} on ${msg.path}`)
    return true
  }
  conn.addMethodHandler(handle)

  const stopAll = async () => {
    if (stopped) return
    stopped = true
    for (const t of timers) clearTimeout(t)
    for (const t of intervals) clearInterval(t)
    timers.clear()
    intervals.clear()
    try {
      conn.disconnect()
    } catch {}
  }

  return {
    bus,
    env: bus.env,
    unit: define,
    setState,
    flap(name, states, intervalMs) {
      let i = 0
      const t = setInterval(() => {
        const [a, s] = states[i++ % states.length]!
        setState(name, a, s)
      }, intervalMs)
      intervals.add(t)
      return () => {
        clearInterval(t)
        intervals.delete(t)
      }
    },
    muteSignals(m) {
      muted = m
    },
    jobRemovedBeforeReply(on) {
      removedFirst = on
    },
    calls,
    async dropBus() {
      // SIGKILL, not a polite stop: every client connection ends at once, as when dbus-daemon dies.
      process.kill(bus.pid, 'SIGKILL')
      await stopAll()
      await bus.stop()
    },
    async stop() {
      await stopAll()
      await bus.stop()
    },
  }
}

/** For tests: a stand-in torn down with the test, or undefined (a loud skip) when dbus-daemon is missing. */
export async function standinFor(t: TestLike & { teardown(fn: () => unknown): void }): Promise<Systemd1Standin | undefined> {
  if (!(await requireRootAndBins(t, { 'dbus-daemon': 'dbus' }))) return undefined
  const s = await startSystemd1Standin()
  t.teardown(() => s.stop())
  return s
}
