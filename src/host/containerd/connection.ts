import { CriClient } from './cri-client.js';
import { unixChannel } from './grpc-unary.js';
import { ContainerdImages } from './images.js';

/**
 * One gRPC channel to containerd's socket, serving both the CRI (what kubelet calls) and containerd's own image
 * store. The channel connects on the first call, so opening one costs nothing until a pull or probe needs it.
 */
export interface ContainerdConnection {
  readonly socket: string;
  readonly cri: CriClient;
  /** The image store as seen in one containerd namespace (CRI's is `k8s.io`). */
  images(namespace: string): ContainerdImages;
  close(): void;
}

export function connectContainerd(socket: string): ContainerdConnection {
  const channel = unixChannel(socket);
  return {
    socket,
    cri: new CriClient(channel),
    images: (namespace) => new ContainerdImages(channel, namespace),
    close: () => channel.close(),
  };
}
