// Shared by the packaging tests: run a command, build (or reuse) the packaging artifacts, read ELF headers.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export { ROOT };
export const VERSION: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
export const SEA = { x64: join(ROOT, 'dist/postjoin-linux-x64'), arm64: join(ROOT, 'dist/postjoin-linux-arm64') };
export const RPM_DIR = join(ROOT, 'dist/rpm');
export const RPMS = {
  x86_64: join(RPM_DIR, `postjoin-${VERSION}-1.x86_64.rpm`),
  aarch64: join(RPM_DIR, `postjoin-${VERSION}-1.aarch64.rpm`),
  noarch: join(RPM_DIR, `postjoin-node-${VERSION}-1.noarch.rpm`),
};
/** Where qemu-aarch64-static finds the arm64 C and C++ libraries (libc6-arm64-cross, libstdc++6-arm64-cross). */
export const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
}

/** Runs a command without a shell and collects its output. The environment is exactly `env` when given. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** The environment without the test runner's NODE_OPTIONS loaders, which must not reach a build or a single executable. */
export function envWithoutNode(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_')));
}

/**
 * Runs a packaging build script. The scripts skip whatever is up to date and take a lock, so parallel tests
 * share one build. A fresh build takes one to three minutes.
 */
export async function buildArtifacts(script: 'sea/build-sea.mjs' | 'rpm/build-rpm.mjs', args: string[] = []): Promise<RunResult> {
  return run(process.execPath, [join(ROOT, 'packaging', script), ...args], { env: envWithoutNode(), timeoutMs: 540_000 });
}

export interface ElfHeader {
  is64: boolean;
  littleEndian: boolean;
  machine: number;
  interpreter?: string;
  sections: string[];
}

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

/** Reads an ELF file's header, its section names and its program interpreter (64-bit little-endian only). */
export async function readElf(path: string): Promise<ElfHeader> {
  const buf = await readFile(path);
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path} is not an ELF file`);
  const is64 = buf[4] === 2;
  const littleEndian = buf[5] === 1;
  const machine = buf.readUInt16LE(18);
  if (!is64 || !littleEndian) return { is64, littleEndian, machine, sections: [] };
  const phoff = Number(buf.readBigUInt64LE(32));
  const shoff = Number(buf.readBigUInt64LE(40));
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const shstrndx = buf.readUInt16LE(62);
  let interpreter: string | undefined;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (buf.readUInt32LE(ph) === 3 /* PT_INTERP */) {
      const off = Number(buf.readBigUInt64LE(ph + 8));
      const size = Number(buf.readBigUInt64LE(ph + 32));
      interpreter = buf.subarray(off, off + size).toString('latin1').replace(/\0+$/, '');
    }
  }
  const strtab = Number(buf.readBigUInt64LE(shoff + shstrndx * shentsize + 24));
  const sections: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const nameOff = buf.readUInt32LE(shoff + i * shentsize);
    const start = strtab + nameOff;
    sections.push(buf.subarray(start, buf.indexOf(0, start)).toString('latin1'));
  }
  return { is64, littleEndian, machine, interpreter, sections };
}

/** True when qemu-aarch64-static and the arm64 libraries the Node binary links against are here. */
export function canRunArm64(qemu: string | undefined): boolean {
  if (process.arch === 'arm64') return true;
  return (
    qemu !== undefined &&
    ['lib/ld-linux-aarch64.so.1', 'lib/libstdc++.so.6', 'lib/libgcc_s.so.1'].every((f) => existsSync(join(ARM64_SYSROOT, f)))
  );
}

/** argv that runs an arm64 binary here. */
export function arm64Argv(qemu: string | undefined, binary: string, args: string[]): [string, string[]] {
  if (process.arch === 'arm64' || !qemu) return [binary, args];
  return [qemu, ['-L', ARM64_SYSROOT, binary, ...args]];
}
