/**
 * The node's platform as containerd names it. CRI PullImage takes no platform: containerd picks the one it runs
 * on, which is this process's (postjoin runs beside kubelet's containerd, on the same kernel and CPU).
 */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

export function nodePlatform(arch: string = process.arch): string {
  return `linux/${GOARCH[arch] ?? arch}`;
}

/** containerd's normalization: x86_64 is amd64, aarch64 is arm64, and arm64's only variant (v8) may be left out. */
export function samePlatform(a: string, b: string): boolean {
  return normalize(a) === normalize(b);
}

function normalize(platform: string): string {
  const [os = '', arch = '', variant] = platform.toLowerCase().split('/');
  const cpu = ({ x86_64: 'amd64', x86: '386', i386: '386', aarch64: 'arm64' } as Record<string, string>)[arch] ?? arch;
  const v = cpu === 'arm64' && variant === 'v8' ? undefined : variant;
  return [os, cpu, v].filter(Boolean).join('/');
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
