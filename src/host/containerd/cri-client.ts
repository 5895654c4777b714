import type * as grpc from '@grpc/grpc-js';
import { unary, type UnaryOptions } from './grpc-unary.js';
import { ProtoMessage, messageField, stringField } from './protobuf-wire.js';

/**
 * The CRI calls postjoin makes, exactly as kubelet makes them (k8s.io/cri-api, package runtime.v1). Field
 * numbers are from api.proto; containerd ≥ 1.6 serves runtime.v1, and 2.x serves nothing else.
 */
const RUNTIME = '/runtime.v1.RuntimeService';
const IMAGES = '/runtime.v1.ImageService';

export interface CriCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

/** runtime.v1.Image, the fields kubelet itself looks at. */
export interface CriImage {
  /** The image ID: the digest of its config. */
  id: string;
  repoTags: string[];
  repoDigests: string[];
  /** Bytes of content (compressed layers, config, manifests), as kubelet's image GC counts them. */
  size: number;
  /** Reported by containerd ≥ 1.7 from the io.cri-containerd.pinned label; older ones never set it. */
  pinned: boolean;
}

/** runtime.v1.AuthConfig: only username/password, which is what an ECR token decodes to. */
export interface CriAuth {
  username: string;
  password: string;
}

const STATUS_TIMEOUT_MS = 5_000;
const IMAGE_STATUS_TIMEOUT_MS = 30_000;

export class CriClient {
  constructor(private readonly channel: grpc.Client) {}

  /** RuntimeService/Status: the conditions kubelet waits for (RuntimeReady, NetworkReady). */
  async status(opts: UnaryOptions = {}): Promise<CriCondition[]> {
    const res = await unary(this.channel, `${RUNTIME}/Status`, Buffer.alloc(0), { timeoutMs: STATUS_TIMEOUT_MS, ...opts });
    // StatusResponse{1: RuntimeStatus{1: repeated RuntimeCondition{1 type, 2 status, 3 reason, 4 message}}}
    return (new ProtoMessage(res).message(1)?.messages(1) ?? []).map((c) => ({
      type: c.string(1),
      status: c.bool(2),
      reason: c.string(3),
      message: c.string(4),
    }));
  }

  /** ImageService/ImageStatus: what kubelet asks before pulling with IfNotPresent. Undefined if absent. */
  async imageStatus(ref: string, opts: UnaryOptions = {}): Promise<CriImage | undefined> {
    const req = messageField(1, [imageSpec(ref)]);
    const res = await unary(this.channel, `${IMAGES}/ImageStatus`, req, { timeoutMs: IMAGE_STATUS_TIMEOUT_MS, ...opts });
    const image = new ProtoMessage(res).message(1);
    if (!image || !image.string(1)) return undefined;
    return {
      id: image.string(1),
      repoTags: image.strings(2),
      repoDigests: image.strings(3),
      size: image.uint(4),
      pinned: image.bool(8),
    };
  }

  /**
   * ImageService/PullImage. Runs until done or until `opts.signal` aborts, which cancels the call and with it
   * the pull inside containerd. Returns the image ID.
   */
  async pullImage(ref: string, auth: CriAuth | undefined, opts: UnaryOptions = {}): Promise<string> {
    // No server_address: containerd then offers the credentials to whichever host serves the pull, a hosts.toml
    // mirror of the registry included (with an address, it would withhold them from any other host name).
    const authConfig = auth ? messageField(2, [stringField(1, auth.username), stringField(2, auth.password)]) : Buffer.alloc(0);
    const req = Buffer.concat([messageField(1, [imageSpec(ref)]), authConfig]);
    const res = await unary(this.channel, `${IMAGES}/PullImage`, req, opts);
    return new ProtoMessage(res).string(1);
  }
}

function imageSpec(ref: string): Buffer {
  // ImageSpec{1: image}; annotations and runtime handler are for pods, not for a pre-pull.
  return stringField(1, ref);
}
