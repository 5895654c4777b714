import type { RegistryCredentials } from '../host/aws/registry-credentials.js';
import type { ContainerdConnection } from '../host/containerd/connection.js';
import type { CriImage } from '../host/containerd/cri-client.js';
import type { ContainerdImages } from '../host/containerd/images.js';
import type { ImageRef } from './image-ref.js';

/**
 * The label kubelet's image GC honours, through CRI's Image.pinned (containerd ≥ 1.7). Kept here, not beside the
 * gRPC code, so that loading the task kinds (validate, plan) does not load gRPC.
 */
export const PINNED_LABEL = 'io.cri-containerd.pinned';
export const PINNED_VALUE = 'pinned';

export interface PullImageDeps {
  containerd: ContainerdConnection;
  images: ContainerdImages;
  credentials: RegistryCredentials;
  pin: boolean;
  signal: AbortSignal;
}

/** The per-image log record (design §8 style: one JSON line an SRE can grep by image). */
export interface PullRecord {
  image: string;
  digest: string;
  image_id: string;
  bytes: number;
  duration_ms: number;
  pinned: boolean;
  pulled: boolean;
}

/**
 * One image, the way kubelet would see it: ImageStatus first (kubelet's IfNotPresent check), PullImage only if
 * absent, ImageStatus again to prove kubelet will now find it, then the pin label on every name CRI gave it.
 */
export async function pullOneImage(image: string, ref: ImageRef, deps: PullImageDeps): Promise<PullRecord> {
  const started = Date.now();
  const { cri } = deps.containerd;
  const opts = { signal: deps.signal };
  // containerd is given our own normalized form, not the string as written: the registry that the policy
  // allowed and that the credentials are for is then, by construction, the one containerd pulls from.
  let status = await cri.imageStatus(ref.normalized, opts);
  const pulled = status === undefined;
  if (!status) {
    const auth = await untilAborted(deps.credentials.forRegistry(ref.registry), deps.signal);
    await cri.pullImage(ref.normalized, auth, opts);
    status = await cri.imageStatus(ref.normalized, opts);
    if (!status) throw new Error('containerd took the pull but ImageStatus does not find the image, so kubelet would pull it again');
  }
  const pinned = await pinState(status, deps);
  return {
    image,
    digest: manifestDigest(status, ref),
    image_id: status.id,
    bytes: status.size,
    duration_ms: Date.now() - started,
    pinned,
    pulled,
  };
}

/**
 * CRI gives one image up to three names in containerd (tag, repo digest, config digest) and counts it pinned if
 * any of them carries the label; pinning all of them, as containerd does for its own sandbox image, keeps the
 * pin when one name is later removed or re-pointed. With `pin: false` nothing is changed, only reported.
 */
async function pinState(status: CriImage, deps: PullImageDeps): Promise<boolean> {
  let pinned = false;
  let records = 0;
  for (const name of new Set([...status.repoTags, ...status.repoDigests, status.id])) {
    const record = await deps.images.get(name, deps.signal);
    if (!record) continue;
    records++;
    if (record.labels[PINNED_LABEL] === PINNED_VALUE) pinned = true;
    else if (deps.pin) {
      await deps.images.setLabel(name, PINNED_LABEL, PINNED_VALUE, deps.signal);
      pinned = true;
    }
  }
  if (deps.pin && records === 0) throw new Error(`containerd has no image record for ${status.id} to pin`);
  return pinned;
}

/** The manifest digest this node holds for the image's own repository (an image may have several repos). */
function manifestDigest(status: CriImage, ref: ImageRef): string {
  const repo = `${ref.registry}/${ref.repository}@`;
  const own = status.repoDigests.find((d) => d.startsWith(repo)) ?? status.repoDigests[0];
  return own?.slice(own.indexOf('@') + 1) ?? ref.digest ?? '';
}

/** A shared promise (the run's ECR token) must not keep one task waiting past its own timeout. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('cancelled while waiting for registry credentials'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * CRI's messages repeat the reference at every layer of wrapping ("failed to pull and unpack image "X": failed
 * to resolve reference "X": X: not found"); the SRE needs the image once and the registry's own words.
 */
export function conciseError(image: string, err: unknown): string {
  let text = (err as Error)?.message ?? String(err);
  text = text.replace(/^failed to pull and unpack image "[^"]*": /, '');
  text = text.split(` "${image}"`).join('').split(`${image}: `).join('');
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
