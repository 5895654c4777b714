import t from 'tap'
import { startDbus } from './harness/dbus.js'
import { startRegistry } from './harness/registry.js'
t.test('orphan check', async (t) => {
  const bus = await startDbus()
  const reg = await startRegistry()
  console.error(`PIDS ${bus.pid} ${reg.pid()}`)
  await new Promise((r) => setTimeout(r, 60_000))
})
