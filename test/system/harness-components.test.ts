// Exercises each real-component harness for real, so a broken harness shows up here
// rather than as a confusing failure in a product test.
import t from 'tap'
import { connect } from 'node:net'
import { access, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { requireReal, requireRootAndBins, which } from '../harness/require-real.js'
import { startDbus } from '../harness/dbus.js'
import { startContainerd, writePlainHttpHosts } from '../harness/containerd.js'
import { criStatus } from '../harness/cri.js'
import { startRegistry, v2Status } from '../harness/registry.js'
import { buildAndPush, buildImage, pushImage } from '../harness/oci-image.js'
import { bootContainer, containerdBinaries, containerdUnit, defaultRootfs, rootfsReady, type BootOptions } from '../harness/nspawn.js'
import { removeDir, run, tempDir, waitFor } from '../harness/proc.js'

t.test('requireReal skips loudly, or fails under POSTJOIN_REQUIRE_REAL=1', async (t) => {
  const calls: string[] = []
  const fake = {
    comment: (...a: unknown[]) => void calls.push(`comment ${a.join(' ')}`),
    pass: (m: string, e: { skip: string }) => void calls.push(`skip ${m}: ${e.skip}`),
    fail: (m: string) => void calls.push(`fail ${m}`),
  }
  const saved = process.env.POSTJOIN_REQUIRE_REAL
  t.teardown(() => {
    if (saved === undefined) delete process.env.POSTJOIN_REQUIRE_REAL
    else process.env.POSTJOIN_REQUIRE_REAL = saved
  })
  delete process.env.POSTJOIN_REQUIRE_REAL
  t.equal(await requireReal(fake, 'frobnicator', () => false, 'apt-get install frob'), false)
  t.match(calls, [/^comment MISSING REAL COMPONENT: frobnicator.*apt-get install frob/, /^skip frobnicator: MISSING/])
  calls.length = 0
  process.env.POSTJOIN_REQUIRE_REAL = '1'
  t.equal(await requireReal(fake, 'frobnicator', () => { throw new Error('boom') }, 'x'), false)
  t.match(calls, [/check threw: boom/, /^fail MISSING REAL COMPONENT: frobnicator/])
  t.equal(await requireReal(fake, 'sh', async () => !!(await which('sh')), 'x'), true)
})

t.test('private dbus-daemon', async (t) => {
  if (!(await requireRootAndBins(t, { 'dbus-daemon': 'dbus' }))) return
  const bus = await startDbus()
  t.match(bus.address, /^unix:path=\/.*\/bus$/)
  t.equal(bus.env.DBUS_SYSTEM_BUS_ADDRESS, bus.address)
  // A raw connect is enough here; dbus-next round trips belong to product tests.
  await new Promise<void>((resolve, reject) => {
    const sock = connect(bus.socketPath).once('connect', () => { sock.destroy(); resolve() }).once('error', reject)
  })
  await bus.stop()
  t.throws(() => process.kill(bus.pid, 0), 'daemon is gone after stop()')
  await t.rejects(access(bus.dir), 'temp dir removed')
})

t.test('containerd on a private socket', async (t) => {
  if (!(await requireRootAndBins(t, { containerd: 'containerd', ctr: 'containerd', runc: 'runc' }))) return
  const t0 = Date.now()
  const ctd = await startContainerd()
  t.comment(`containerd ready in ${Date.now() - t0} ms`)
  t.teardown(ctd.stop)
  const v = await ctd.ctr(['version'])
  t.equal(v.code, 0, 'ctr version works')
  t.match(v.stdout, /Server:/)
  const conds = await criStatus(ctd.socket)
  t.match(conds, [{ type: 'RuntimeReady', status: true }, { type: 'NetworkReady', status: false }])
  const toml = await readFile(ctd.configPath, 'utf8')
  t.match(toml, `config_path = "${ctd.hostsDir}"`)
  t.notMatch(toml, '"/var/lib/containerd"')
})

t.test('registry, images and a CRI-style pull through hosts.toml', async (t) => {
  if (!(await requireRootAndBins(t, { 'docker-registry': 'docker-registry', skopeo: 'skopeo', containerd: 'containerd', perl: 'perl-base' }))) return
  const work = await tempDir('img')
  t.teardown(() => removeDir(work))
  let t0 = Date.now()
  const reg = await startRegistry()
  t.comment(`registry ready in ${Date.now() - t0} ms`)
  t.teardown(reg.stop)
  t.match(reg.host, /^127\.0\.0\.1:\d+$/)
  t0 = Date.now()
  const imgs = await buildAndPush(work, reg, [{ name: 'app', tag: '1', index: 1 }, { name: 'sidecar', tag: '2', index: 2, sizeBytes: 256 * 1024 }])
  t.comment(`built+pushed 2 images in ${Date.now() - t0} ms`)
  t.equal(imgs.length, 2)
  t.not(imgs[0]?.layerDigest, imgs[1]?.layerDigest, 'layers differ')
  for (const img of imgs) t.equal(img.digest, img.manifestDigest, `${img.ref} kept its manifest digest`)
  const again = await buildImage(join(work, 'again'), { name: 'app', tag: '1', index: 1 })
  t.equal(again.manifestDigest, imgs[0]?.manifestDigest, 'builds are deterministic')

  // Stop mid-way, come back on the same port with the same content.
  await reg.halt()
  t.equal(await v2Status(reg.host), 0, 'nothing answers while halted')
  await reg.restart()
  t.equal(await v2Status(reg.host), 200)

  const ctd = await startContainerd()
  t.teardown(ctd.stop)
  await writePlainHttpHosts(ctd.hostsDir, reg.host)
  const ref = imgs[1]?.ref ?? ''
  const pull = await ctd.ctr(['images', 'pull', '--plain-http', ref], { namespace: 'k8s.io' })
  t.equal(pull.code, 0, `ctr pulls ${ref}: ${pull.stderr}`)
  const ls = await ctd.ctr(['images', 'ls', '-q'], { namespace: 'k8s.io' })
  t.match(ls.stdout, ref)
})

t.test('registry with basic auth rejects anonymous push and pull', async (t) => {
  if (!(await requireRootAndBins(t, { 'docker-registry': 'docker-registry', skopeo: 'skopeo', perl: 'perl-base' }))) return
  const work = await tempDir('img')
  t.teardown(() => removeDir(work))
  const reg = await startRegistry({ auth: { user: 'tester', password: 's3cret' } })
  t.teardown(reg.stop)
  t.equal(await v2Status(reg.host), 401)
  const img = await buildImage(work, { name: 'private', tag: 'x', index: 7 })
  await t.rejects(pushImage(work, img, reg.host), /unauthorized|authentication required/i, 'anonymous push refused')
  await t.rejects(pushImage(work, img, reg.host, { creds: { user: 'tester', password: 'wrong' } }), /unauthorized|authentication required/i)
  const pushed = await pushImage(work, img, reg.host, { creds: reg.auth })
  t.equal(pushed.digest, img.manifestDigest)
  const policy = join(work, 'skopeo-policy.json')
  const inspect = (creds: string[]) => run('skopeo', ['--policy', policy, 'inspect', '--raw', '--tls-verify=false', '--authfile', join(work, 'none.json'), ...creds, `docker://${pushed.ref}`])
  const anon = await inspect(['--no-creds'])
  t.not(anon.code, 0, 'anonymous pull refused')
  t.match(anon.stderr, /unauthorized|authentication required/i)
  const authed = await inspect(['--creds', 'tester:s3cret'])
  t.equal(authed.code, 0, authed.stderr)
})

t.test('systemd in nspawn: stub unit, netns address, state across a reboot, containerd inside', async (t) => {
  if (!(await requireRootAndBins(t, { 'systemd-nspawn': 'systemd-container', nsenter: 'util-linux', pgrep: 'procps', ip: 'iproute2' }))) return
  if (!(await requireReal(t, `rootfs at ${defaultRootfs}`, () => rootfsReady(), 'sudo scripts/ensure-rootfs.sh (about 2 min, once)'))) return
  const state = await tempDir('state')
  t.teardown(() => removeDir(state))
  const stub = '[Unit]\nDescription=harness stub\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/usr/local/bin/stub.sh\n[Install]\nWantedBy=multi-user.target\n'
  const script = '#!/bin/sh\nn=$(cat /var/lib/postjoin/boots 2>/dev/null || echo 0)\necho $((n+1)) > /var/lib/postjoin/boots\necho "stub ran, boot $((n+1))"\n'
  const boot = (more: Partial<BootOptions> = {}) => bootContainer({
    ...more,
    units: { 'stub.service': stub, ...more.units }, enable: ['stub.service', ...(more.enable ?? [])], stateDir: state,
    extraFiles: { '/usr/local/bin/stub.sh': script },
    binds: [{ host: process.execPath, container: '/usr/local/bin/node', ro: true }, ...(more.binds ?? [])],
  })

  const c1 = await boot()
  t.teardown(c1.stop)
  t.comment(`first boot reached running in ${c1.bootMs} ms`)
  t.equal((await c1.systemctl('is-active', 'stub.service')).stdout.trim(), 'active')
  t.match(await c1.journal('stub.service'), 'stub ran, boot 1')
  const node = await c1.exec(['node', '-e', 'console.log(process.version, process.env.FOO)'], { env: { FOO: 'bar' } })
  t.equal(node.stdout.trim(), `${process.version} bar`, 'host node runs inside with a clean env')
  await access(c1.busAddress.replace('unix:path=', ''))
  t.pass('container system bus reachable from the host')
  await c1.addAddress('169.254.169.254/32')
  t.match((await c1.netExec(['ip', '-4', 'addr', 'show', 'dev', 'lo'])).stdout, '169.254.169.254/32')
  t.notMatch((await run('ip', ['-4', 'addr', 'show'])).stdout, '169.254.169.254', 'host netns untouched')
  await c1.exec(['sh', '-c', 'echo first > /var/lib/postjoin/marker; echo scratch > /etc/scratch'])
  const t0 = Date.now()
  await c1.stop()
  t.comment(`stop took ${Date.now() - t0} ms`)
  await t.rejects(access(`/run/systemd/nspawn/propagate/${c1.name}`), 'propagate dir removed')
  t.ok(c1.cgroups.length > 0)
  for (const cg of c1.cgroups) await t.rejects(access(cg), `own cgroup ${cg} removed`)

  // "Reboot": same state dir, plus the real containerd inside, pulling from a
  // registry that lives in the container's own network namespace.
  const lib = await tempDir('ctdlib')
  t.teardown(() => removeDir(lib))
  const c2 = await boot({
    units: { 'containerd.service': containerdUnit }, enable: ['containerd.service'],
    binds: [...(await containerdBinaries()), { host: lib, container: '/var/lib/containerd' }],
  })
  t.teardown(c2.stop)
  t.comment(`second boot reached running in ${c2.bootMs} ms`)
  t.equal((await c2.exec(['cat', '/var/lib/postjoin/marker'])).stdout, 'first\n', 'state dir persisted')
  t.equal((await c2.exec(['cat', '/var/lib/postjoin/boots'])).stdout, '2\n')
  t.not((await c2.exec(['test', '-e', '/etc/scratch'])).code, 0, 'volatile overlay dropped other writes')
  t.notMatch((await c2.netExec(['ip', 'addr'])).stdout, '169.254.169.254', 'fresh netns')
  await waitFor('containerd.service', async () => (await c2.systemctl('is-active', 'containerd.service')).stdout.trim() === 'active')
  t.match(await criStatus(c2.hostPath('/run/containerd/containerd.sock')), [{ type: 'RuntimeReady', status: true }])
  const work = await tempDir('img')
  t.teardown(() => removeDir(work))
  const reg = await startRegistry({ netnsPid: c2.leader })
  t.teardown(reg.stop)
  const [img] = await buildAndPush(work, reg, [{ name: 'inside', tag: '1', index: 3 }])
  const pull = await c2.exec(['ctr', '-n', 'k8s.io', 'images', 'pull', '--plain-http', img?.ref ?? ''])
  t.equal(pull.code, 0, `containerd in the container pulls ${img?.ref} ${pull.stderr}`)
  await reg.stop()
  await c2.stop()
})
