// The registry goes away in the middle of a pull. A slow proxy (2 MiB/s per connection) in front of the real
// registry makes "the middle" a place we can wait for, rather than a race against loopback speed.
import t from 'tap';
import { connectContainerd } from '../../src/host/containerd/connection.js';
import { buildAndPush, removeDir, requireRootAndBins, startContainerd, startRegistry, tempDir, waitFor, writePlainHttpHosts } from '../harness/index.js';
import { startSlowProxy } from '../emulators/slow-proxy.js';
import { runTasks } from '../helpers/pull.js';

const BINS = { containerd: 'containerd', ctr: 'containerd', 'docker-registry': 'docker-registry', skopeo: 'skopeo', perl: 'perl-base' };
const LAYER = 8 << 20;

t.test('registry failures in the middle of a pull', async (t) => {
  if (!(await requireRootAndBins(t, BINS))) return;
  const work = await tempDir('img');
  t.teardown(() => removeDir(work));
  const reg = await startRegistry();
  t.teardown(reg.stop);
  const proxy = await startSlowProxy({ target: reg.host, bytesPerSecond: 2 << 20 });
  t.teardown(proxy.close);
  const ctd = await startContainerd();
  t.teardown(ctd.stop);
  await writePlainHttpHosts(ctd.hostsDir, proxy.host);
  const [killed, frozen] = await buildAndPush(work, reg, [
    { name: 'big/killed', tag: '1', index: 1, sizeBytes: LAYER },
    { name: 'big/frozen', tag: '1', index: 2, sizeBytes: LAYER },
  ]);
  const viaProxy = (ref: string) => ref.replace(reg.host, proxy.host);
  const conn = connectContainerd(ctd.socket);
  t.teardown(() => conn.close());
  /** Leases and in-progress downloads in k8s.io, without ctr's header lines. */
  const leftovers = async () => {
    const body = async (args: string[]) => (await ctd.ctr(args, { namespace: 'k8s.io' })).stdout.trim().split('\n').slice(1).join('\n');
    return `${await body(['leases', 'ls'])}${await body(['content', 'active'])}`;
  };
  /** Resolves once the proxy has passed `bytes` more of the answer: the layer is then half-way through. */
  const midLayer = async (bytes: number) => {
    const from = proxy.stats.bytesDown;
    await waitFor('the layer download to be under way', async () => proxy.stats.bytesDown - from >= bytes, { timeoutMs: 30_000, intervalMs: 20 });
  };

  t.test('killed: the task fails at once with the image and the error; the next run pulls it', async (t) => {
    const ref = viaProxy(killed!.ref);
    const task = `  - name: killed\n    timeout: 60s\n    pull: { images: [${JSON.stringify(ref)}] }\n`;
    const running = runTasks(task, { socket: ctd.socket });
    await midLayer(1 << 20);
    const haltedAt = Date.now();
    await reg.halt();
    const run = await running;
    t.equal(run.exitCode, 1);
    t.match(run.message, `task "killed" failed: 1 of 1 image(s) failed: ${ref}: `);
    t.match(run.message, /unexpected EOF|reset|refused|closed/i, 'the transport error, as containerd saw it');
    t.ok(Date.now() - haltedAt < 20_000, `failed ${Date.now() - haltedAt} ms after the registry died, far inside the 60s timeout`);
    t.equal(await conn.cri.imageStatus(ref), undefined, 'no half-pulled image for kubelet to trip over');
    await waitFor('containerd to drop the failed pull', async () => (await leftovers()) === '', { timeoutMs: 10_000, intervalMs: 100 });
    t.pass('no lease and no download in progress after the failure');

    await reg.restart();
    const next = await runTasks(task, { socket: ctd.socket, stateDir: run.stateDir });
    t.equal(next.exitCode, 0, next.message ?? 'ok');
    t.match(next.images[0], { image: ref, pulled: true, pinned: true, digest: killed!.manifestDigest });
  });

  t.test('frozen: the task timeout cancels the CRI pull promptly; the next run pulls it', async (t) => {
    const ref = viaProxy(frozen!.ref);
    const task = `  - name: frozen\n    timeout: 3s\n    pull: { images: [${JSON.stringify(ref)}] }\n`;
    const running = runTasks(task, { socket: ctd.socket });
    await midLayer(1 << 20);
    reg.freeze();
    const run = await running;
    t.equal(run.exitCode, 1);
    t.match(run.message, /^task "frozen" failed: timed out after 3s/);
    t.notMatch(run.message, /did not stop/, 'the pull stopped when cancelled; the runner did not have to give up on it');
    t.ok(run.ms < 3_000 + 5_000, `the task ended ${run.ms} ms after it started (timeout 3s)`);
    t.match(run.images[0], { image: ref, error: 'cancelled' });
    // containerd ends the cancelled pull's lease and download itself; nothing is left to hold or block the next one.
    await waitFor('containerd to drop the cancelled pull', async () => (await leftovers()) === '', { timeoutMs: 10_000, intervalMs: 100 });
    t.pass('no lease and no download in progress after the cancel');

    await reg.restart();
    const next = await runTasks(task.replace('timeout: 3s', 'timeout: 60s'), { socket: ctd.socket, stateDir: run.stateDir });
    t.equal(next.exitCode, 0, next.message ?? 'ok');
    t.match(next.images[0], { image: ref, pulled: true, digest: frozen!.manifestDigest });
  });
});
