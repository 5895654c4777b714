// The two architectures postjoin ships for, under each name the tools use, and how to run a binary of
// either one on this build host (natively, or under qemu-user with a cross sysroot).
import { accessSync, constants, existsSync, openSync, readSync, closeSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const ARCHES = {
  x64: {
    node: 'x64',
    rpm: 'x86_64',
    deb: 'amd64',
    elfMachine: 62, // EM_X86_64
    interpreter: '/lib64/ld-linux-x86-64.so.2',
    qemu: 'qemu-x86_64-static',
    sysroot: '/usr/x86_64-linux-gnu', // Debian libc6-amd64-cross and libstdc++6-amd64-cross
    strip: ['x86_64-linux-gnu-strip', ...(process.arch === 'x64' ? ['strip'] : []), 'llvm-strip'],
  },
  arm64: {
    node: 'arm64',
    rpm: 'aarch64',
    deb: 'arm64',
    elfMachine: 183, // EM_AARCH64
    interpreter: '/lib/ld-linux-aarch64.so.1',
    qemu: 'qemu-aarch64-static',
    sysroot: '/usr/aarch64-linux-gnu', // Debian libc6-arm64-cross and libstdc++6-arm64-cross
    strip: ['aarch64-linux-gnu-strip', ...(process.arch === 'arm64' ? ['strip'] : []), 'llvm-strip'],
  },
};

export function archNamed(name) {
  const arch = ARCHES[name];
  if (!arch) throw new Error(`unknown arch "${name}"; arches are ${Object.keys(ARCHES).join(', ')}`);
  return arch;
}

/** Absolute path of an executable on PATH (sbin dirs included), or undefined. */
export function which(bin) {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs.filter(Boolean)) {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return join(dir, bin);
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * The argv prefix that runs a binary of `arch` here: [] natively, [qemu, -L, sysroot] under emulation, or
 * undefined with the reason when neither works.
 */
export function runnerFor(archName) {
  const arch = archNamed(archName);
  if (process.arch === arch.node) return { prefix: [] };
  const qemu = which(arch.qemu);
  if (!qemu) return { why: `${arch.qemu} is missing (Debian package qemu-user-static)` };
  // A host with that arch's libc installed multiarch needs no -L.
  if (existsSync(arch.interpreter)) return { prefix: [qemu] };
  // Node links libstdc++ and libgcc_s as well as glibc; Debian's cross packages put them all under the sysroot.
  const needed = [arch.interpreter, ...['libstdc++.so.6', 'libgcc_s.so.1'].map((l) => `/lib/${l}`)].map((f) => join(arch.sysroot, f));
  const missing = needed.filter((f) => !existsSync(f));
  if (missing.length === 0) return { prefix: [qemu, '-L', arch.sysroot] };
  return { why: `no ${arch.rpm} C/C++ libraries for qemu (missing ${missing.join(', ')})` };
}

/** e_machine of an ELF file, or undefined if it is not a 64-bit little-endian ELF. */
export function elfMachine(path) {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(20);
    readSync(fd, head, 0, 20, 0);
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined;
    return head.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}
