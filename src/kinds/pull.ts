import { z } from 'zod';
import { forEachWithLimit } from '../base/concurrency.js';
import { allowedByGlobs } from '../base/glob.js';
import { quoted } from '../base/shown-text.js';
import { parseImageRef, type ImageRef } from './image-ref.js';
import { TaskFailed, asWord, defineKind, specFields, type TaskContext } from './kind.js';
import { conciseError, pullOneImage, type PullRecord } from './pull-image.js';
import { formatBytes, nodePlatform, samePlatform } from './pull-platform.js';

/** The namespace the CRI plugin keeps kubelet's images in; it is fixed inside containerd. */
const CRI_NAMESPACE = 'k8s.io';

const imageReference = z.string({ error: 'expected an image reference string' }).superRefine((s, ctx) => {
  const parsed = parseImageRef(s);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `${quoted(s)} is not an image reference: ${parsed.reason}` });
});

const schema = z
  .strictObject({
    images: z.array(imageReference, { error: 'expected a list of image references' }).min(1, 'pull.images needs at least one image'),
    concurrency: z
      .int({ error: 'expected a whole number of images to pull at once' })
      .min(1, 'concurrency must be at least 1')
      .max(32, 'concurrency must be at most 32')
      .default(4),
    platform: z
      .string({ error: 'expected a platform string such as "linux/arm64"' })
      .regex(/^[a-z0-9]+\/[a-z0-9_]+(\/[a-z0-9]+)?$/, 'expected os/arch[/variant], such as "linux/arm64"')
      .optional(),
    pin: z.boolean().default(true),
  })
  .meta({ description: "Pre-pulls images into kubelet's containerd through the CRI, pinned against kubelet's image GC." });

type PullSpec = z.output<typeof schema>;

const refOf = (image: string): ImageRef => {
  const parsed = parseImageRef(image);
  if (!parsed.ok) throw new TaskFailed(`${quoted(image)} is not an image reference: ${parsed.reason}`);
  return parsed.ref;
};

export const pullKind = defineKind({
  kind: 'pull',
  summary: "pre-pull images into kubelet's containerd (CRI), pinned against image GC",
  schema,
  tagsByDefault: true,
  // `pull IMAGE…`
  tagForm: {
    parse: (words) => (words.length === 0 ? { reason: 'pull needs at least one image: "pull IMAGE…"' } : { spec: { images: words } }),
    write(spec) {
      const s = specFields(spec);
      const images = Array.isArray(s.images) ? s.images.map(asWord) : [];
      return images.length === 0 ? { reason: 'pull.images must be a non-empty list' } : { words: images, keys: ['images'] };
    },
  },
  checkPolicy(spec: PullSpec, rules) {
    if (rules.registries.length === 0) return [];
    return spec.images.flatMap((image) => {
      const parsed = parseImageRef(image);
      if (!parsed.ok || allowedByGlobs(parsed.ref.registry, rules.registries)) return [];
      return [`image ${quoted(image)} is from registry ${quoted(parsed.ref.registry)}, which policy.registries does not allow (${JSON.stringify(rules.registries)})`];
    });
  },
  run: pullImages,
});

async function pullImages(spec: PullSpec, ctx: TaskContext): Promise<void> {
  const { socket, namespace } = ctx.containerd;
  if (namespace !== CRI_NAMESPACE) {
    throw new TaskFailed(
      `containerd.namespace is ${quoted(namespace)}, but pull goes through the CRI, whose images always live in "${CRI_NAMESPACE}" (where kubelet looks); set containerd.namespace to ${CRI_NAMESPACE}`,
    );
  }
  const node = nodePlatform();
  if (spec.platform && !samePlatform(spec.platform, node)) {
    throw new TaskFailed(
      `platform ${spec.platform} is not this node's (${node}): kubelet's containerd pulls only the node's own platform, and an image for another one could not run here; drop "platform", or give this task only to ${spec.platform} nodes`,
    );
  }
  // The same image spelled twice (`nginx`, `docker.io/library/nginx:latest`) is pulled once.
  const seen = new Set<string>();
  const images = spec.images.map((image) => ({ image, ref: refOf(image) })).filter(({ ref }) => !seen.has(ref.normalized) && seen.add(ref.normalized));

  const containerd = await ctx.host.containerd(socket);
  const deps = { containerd, images: containerd.images(namespace), credentials: ctx.host.registryCredentials, pin: spec.pin, signal: ctx.signal };
  const started = Date.now();
  const done: PullRecord[] = [];
  const failed: string[] = [];
  await forEachWithLimit(
    images,
    spec.concurrency,
    async ({ image, ref }) => {
      const t0 = Date.now();
      try {
        const record = await pullOneImage(image, ref, deps);
        done.push(record);
        const what = record.pulled ? `pulled ${image}` : `${image} already present, not pulled`;
        ctx.log.info(record, `${what} (${record.digest}, ${formatBytes(record.bytes)}${record.pinned ? ', pinned' : ''}) in ${record.duration_ms} ms`);
      } catch (err) {
        const error = conciseError(image, err);
        failed.push(`${image}: ${error}`);
        ctx.log.warn({ image, error, duration_ms: Date.now() - t0 }, `cannot pull ${image}: ${error}`);
      }
    },
    // Every image gets its chance even after one fails; only the task's timeout or a stop ends new starts.
    () => !ctx.signal.aborted,
  );
  const notStarted = images.length - done.length - failed.length;
  const pulledCount = done.filter((r) => r.pulled).length;
  const summary = {
    images: images.length,
    pulled: pulledCount,
    present: done.length - pulledCount,
    failed: failed.length,
    not_started: notStarted,
    bytes: done.reduce((n, r) => n + (r.pulled ? r.bytes : 0), 0),
    duration_ms: Date.now() - started,
    concurrency: spec.concurrency,
  };
  if (failed.length > 0 || notStarted > 0) {
    ctx.log.warn(summary, `${done.length} of ${images.length} image(s) ready, ${failed.length} failed, ${notStarted} not started`);
    const rest = notStarted > 0 ? `; ${notStarted} not started` : '';
    throw new TaskFailed(`${failed.length} of ${images.length} image(s) failed: ${failed.join('; ')}${rest}`);
  }
  ctx.log.info(
    summary,
    `${images.length} image(s) ready: ${summary.pulled} pulled (${formatBytes(summary.bytes)}), ${summary.present} already present, in ${summary.duration_ms} ms`,
  );
}
