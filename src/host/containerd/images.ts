import * as grpc from '@grpc/grpc-js';
import { GrpcError, unary } from './grpc-unary.js';
import { ProtoMessage, messageField, repeatedStringField, stringField, stringMapField } from './protobuf-wire.js';

/**
 * containerd's own image store (containerd.services.images.v1.Images), for what CRI has no call for: image
 * labels. Talking gRPC on the socket we already hold avoids a `ctr images label` subprocess per image.
 */
const IMAGES = '/containerd.services.images.v1.Images';
const CALL_TIMEOUT_MS = 10_000;

export interface ContainerdImage {
  name: string;
  labels: Record<string, string>;
  targetDigest: string;
}

export class ContainerdImages {
  constructor(
    private readonly channel: grpc.Client,
    private readonly namespace: string,
  ) {}

  private call(method: string, req: Buffer, signal?: AbortSignal): Promise<Buffer> {
    return unary(this.channel, `${IMAGES}/${method}`, req, {
      timeoutMs: CALL_TIMEOUT_MS,
      metadata: { 'containerd-namespace': this.namespace },
      ...(signal ? { signal } : {}),
    });
  }

  /** Images.Get; undefined when containerd has no image record of that name. */
  async get(name: string, signal?: AbortSignal): Promise<ContainerdImage | undefined> {
    try {
      const res = await this.call('Get', stringField(1, name), signal);
      const image = new ProtoMessage(res).message(1);
      if (!image) return undefined;
      // Image{1 name, 2 labels, 3 target: Descriptor{1 media_type, 2 digest, 3 size}}
      return { name: image.string(1), labels: image.stringMap(2), targetDigest: image.message(3)?.string(2) ?? '' };
    } catch (err) {
      if (err instanceof GrpcError && err.code === grpc.status.NOT_FOUND) return undefined;
      throw err;
    }
  }

  /**
   * Sets one label through Images.Update with the field mask `labels.KEY`, so containerd merges it into the
   * stored record and leaves every other label (CRI's own `io.cri-containerd.image`) alone.
   */
  async setLabel(name: string, key: string, value: string, signal?: AbortSignal): Promise<void> {
    const image = messageField(1, [stringField(1, name), stringMapField(2, { [key]: value })]);
    const mask = messageField(2, [repeatedStringField(1, [`labels.${key}`])]);
    await this.call('Update', Buffer.concat([image, mask]), signal);
  }
}
