// The pull kind against a real containerd (CRI on a temp socket, hosts dir as config_path) and a real
// docker-registry on 127.0.0.1, with eight distinct hand-built images.
import t from 'tap';
import { connectContainerd } from '../../src/host/containerd/connection.js';
import { PINNED_LABEL } from '../../src/kinds/pull-image.js';
import { buildAndPush, requireRootAndBins, type PushedImage } from '../harness/index.js';
import { countingHost, registryAndContainerd, runTasks } from '../helpers/pull.js';

const BINS = { containerd: 'containerd', ctr: 'containerd', 'docker-registry': 'docker-registry', skopeo: 'skopeo', perl: 'perl-base' };

t.test('pull into a real containerd through CRI', async (t) => {
  if (!(await requireRootAndBins(t, BINS))) return;
  const { work, reg, ctd } = await registryAndContainerd(t);
  // Eight distinct images: different names, tags and content, two of them with a bigger layer.
  const imgs = await buildAndPush(
    work,
    reg,
    Array.from({ length: 8 }, (_, i) => ({ name: i % 2 ? `team/svc${i}` : `app${i}`, tag: `v${i}`, index: i, sizeBytes: i < 2 ? 512 * 1024 : 0 })),
  );
  t.equal(new Set(imgs.map((i) => i.manifestDigest)).size, 8, 'eight distinct manifests');
  const list = (refs: PushedImage[]) => `[${refs.map((i) => JSON.stringify(i.ref)).join(', ')}]`;
  const conn = connectContainerd(ctd.socket);
  t.teardown(() => conn.close());
  const k8s = conn.images('k8s.io');

  t.test('eight images, concurrency 4: all present for kubelet, pinned, one record each', async (t) => {
    const spy = countingHost(4);
    t.teardown(() => spy.host.close());
    const run = await runTasks(`  - name: prepull\n    pull: { images: ${list(imgs)}, concurrency: 4 }\n`, { socket: ctd.socket, host: spy.host });
    t.equal(run.exitCode, 0, run.message ?? 'ok');
    t.equal(spy.pulls().length, 8, 'eight CRI pulls');
    t.equal(spy.maxInFlight(), 4, 'four pulls in flight at once, never more');
    t.equal(run.images.length, 8, 'one log record per image');
    for (const img of imgs) {
      const rec = run.images.find((r) => r.image === img.ref);
      t.match(rec, { image: img.ref, digest: img.manifestDigest, image_id: img.configDigest, bytes: Number, duration_ms: Number, pinned: true, pulled: true }, img.ref);
      t.ok((rec?.bytes as number) >= img.layerSize, 'bytes counts the layer');
      // What kubelet's IfNotPresent asks, with the same reference: found, so kubelet will not pull it again.
      const st = await conn.cri.imageStatus(img.ref);
      t.equal(st?.id, img.configDigest, `CRI ImageStatus finds ${img.ref}`);
      for (const name of [img.ref, img.digestRef, img.configDigest]) {
        t.equal((await k8s.get(name))?.labels[PINNED_LABEL], 'pinned', `${name} carries the pin label`);
      }
    }
    const ls = await ctd.ctr(['images', 'ls'], { namespace: 'k8s.io' });
    t.match(ls.stdout, `${imgs[0]!.ref} `, 'ctr sees it in namespace k8s.io');
    t.match(ls.stdout, 'io.cri-containerd.pinned=pinned');
    t.match(run.messages.at(-2) ?? '', /^8 image\(s\) ready: 8 pulled \(.+\), 0 already present, in \d+ ms$/);
    // kubelet pulling the same image again (imagePullPolicy: Always): containerd's client rewrites the tag's record
    // and its labels with it, but the other two names keep theirs, so the image stays pinned.
    await conn.cri.pullImage(imgs[0]!.ref, undefined);
    t.equal((await k8s.get(imgs[0]!.ref))?.labels[PINNED_LABEL], undefined, 'a CRI re-pull drops the label from the tag name');
    t.equal((await k8s.get(imgs[0]!.digestRef))?.labels[PINNED_LABEL], 'pinned', 'the repo digest name keeps it');
    t.equal((await k8s.get(imgs[0]!.configDigest))?.labels[PINNED_LABEL], 'pinned', 'the image ID name keeps it');

    // A re-run (once: false, so the runner does not skip it) finds every image present: no pull, logged.
    const again = countingHost();
    t.teardown(() => again.host.close());
    const rerun = await runTasks(`  - name: prepull\n    once: false\n    pull: { images: ${list(imgs)} }\n`, { socket: ctd.socket, host: again.host });
    t.equal(rerun.exitCode, 0, rerun.message ?? 'ok');
    t.equal(again.pulls().length, 0, 'no CRI pull on the re-run');
    t.equal(rerun.images.filter((r) => r.pulled === false && r.pinned === true).length, 8, 'eight no-op records');
    t.ok(rerun.messages.some((m) => m.startsWith(`${imgs[3]!.ref} already present, not pulled (${imgs[3]!.manifestDigest}`)));
    t.equal((await k8s.get(imgs[0]!.ref))?.labels[PINNED_LABEL], 'pinned', 'the re-run put the label back on the tag name');
    t.ok(rerun.ms < run.ms, `the no-op re-run (${rerun.ms} ms) is faster than the pull (${run.ms} ms)`);
  });

  t.test('a missing image fails the task after the others finish, naming it and the registry error', async (t) => {
    const more = await buildAndPush(work, reg, [{ name: 'late', tag: 'a', index: 20 }, { name: 'late', tag: 'b', index: 21 }]);
    const missing = `${reg.host}/nothing/here:1`;
    const run = await runTasks(
      `  - name: mixed\n    pull: { images: [${JSON.stringify(missing)}, ${JSON.stringify(more[0]!.ref)}, ${JSON.stringify(more[1]!.ref)}], concurrency: 1 }\n`,
      { socket: ctd.socket },
    );
    t.equal(run.exitCode, 1);
    t.equal(run.status.mixed, 'failed');
    t.equal(run.message, `task "mixed" failed: 1 of 3 image(s) failed: ${missing}: failed to resolve reference: not found`);
    t.match(run.images.find((r) => r.image === missing), { error: 'failed to resolve reference: not found' });
    for (const img of more) t.equal((await conn.cri.imageStatus(img.ref))?.id, img.configDigest, `${img.ref} was still pulled after the failure`);
  });

  t.test('pin: false leaves the label off; an unpinned present image is pinned by a later pull task', async (t) => {
    const [img] = await buildAndPush(work, reg, [{ name: 'nopin', tag: '1', index: 30 }]);
    const run = await runTasks(`  - name: nopin\n    pull: { images: [${JSON.stringify(img!.ref)}], pin: false }\n`, { socket: ctd.socket });
    t.equal(run.exitCode, 0, run.message ?? 'ok');
    t.match(run.images[0], { pulled: true, pinned: false });
    t.equal((await k8s.get(img!.ref))?.labels[PINNED_LABEL], undefined, 'no pin label');
    const pin = await runTasks(`  - name: pin\n    pull: { images: [${JSON.stringify(img!.ref)}] }\n`, { socket: ctd.socket });
    t.equal(pin.exitCode, 0, pin.message ?? 'ok');
    t.match(pin.images[0], { pulled: false, pinned: true });
    t.equal((await k8s.get(img!.ref))?.labels[PINNED_LABEL], 'pinned');
  });

  t.test('the same image spelled twice is pulled once; a digest reference works', async (t) => {
    const [img] = await buildAndPush(work, reg, [{ name: 'twice', tag: 'latest', index: 40 }]);
    const spy = countingHost();
    t.teardown(() => spy.host.close());
    const bare = `${reg.host}/twice`;
    const run = await runTasks(`  - name: twice\n    pull: { images: [${JSON.stringify(bare)}, ${JSON.stringify(img!.ref)}, ${JSON.stringify(img!.digestRef)}], concurrency: 1 }\n`, {
      socket: ctd.socket,
      host: spy.host,
    });
    t.equal(run.exitCode, 0, run.message ?? 'ok');
    t.same(spy.pulls(), [`${bare}:latest`], 'containerd is asked for the normalized name; the digest reference then finds it present');
    t.match(run.images.map((r) => [r.image, r.pulled]), [[bare, true], [img!.digestRef, false]]);
  });

  t.test('a namespace other than k8s.io, or a foreign platform, is refused with the reason', async (t) => {
    const ns = await runTasks(`  - name: ns\n    pull: { images: [${JSON.stringify(imgs[0]!.ref)}] }\n`, { socket: ctd.socket, namespace: 'default' });
    t.equal(ns.exitCode, 1);
    t.match(ns.message, /containerd\.namespace is "default", but pull goes through the CRI, whose images always live in "k8s\.io"/);
    const foreign = process.arch === 'arm64' ? 'linux/amd64' : 'linux/arm64';
    const pf = await runTasks(`  - name: pf\n    pull: { images: [${JSON.stringify(imgs[0]!.ref)}], platform: ${foreign} }\n`, { socket: ctd.socket });
    t.equal(pf.exitCode, 1);
    t.match(pf.message, new RegExp(`platform ${foreign} is not this node's \\(linux/`));
    const own = process.arch === 'arm64' ? 'linux/arm64/v8' : 'linux/x86_64';
    const ok = await runTasks(`  - name: own\n    pull: { images: [${JSON.stringify(imgs[0]!.ref)}], platform: ${own} }\n`, { socket: ctd.socket });
    t.equal(ok.exitCode, 0, `${own} is this node's platform: ${ok.message ?? 'ok'}`);
  });
});
