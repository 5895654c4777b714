// A node in a private subnet, behind a real HTTP proxy (Debian's tinyproxy), for the bundle as a process. A network
// namespace of the test's own (held by a `sleep` under `unshare --net`) with lo up, 169.254.169.254 and a documentation
// address (192.0.2.10) on it and no route out, so no request and no DNS query can leave it. Inside it:
// - the far side (proxy-world-process.ts): IMDS, the Kubernetes API stand-in, EC2 and ECR, a web server;
// - tinyproxy on 127.0.0.1, in a mount namespace of its own whose /etc/hosts alone maps the *.proxy-only.test names
//   to 127.0.0.1. Anything that bypasses the proxy cannot resolve them (EAI_AGAIN: the resolver is unreachable);
// - `postjoin` itself, run with `nsenter -n` and the host's /etc/hosts.
// tinyproxy's log (LogLevel Connect) names every request it handled, which proves what went through it.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { requireRootAndBins } from '../harness/require-real.js';
import { runOk, startDaemon, stopChild, waitFor } from '../harness/proc.js';
import { startTinyproxy, type Tinyproxy, type TinyproxyOptions } from '../harness/tinyproxy.js';
import { bundleProgram, mainOf } from './bundle.js';
import { BUNDLE, type CliResult } from './cli.js';
import { DIRECT_IP, PROXY_ONLY, type World, type WorldRequests } from './proxy-world-process.js';

export { DIRECT_IP, INSTANCE_ID, PROXY_ONLY, ROLE, TLS_PROXY_PORT } from './proxy-world-process.js';

/** tinyproxy's options in the world: BasicAuth (407 without them), ConnectPort lines (403 for other ports), a port. */
export type ProxyOptions = Omit<TinyproxyOptions, 'dir' | 'netnsPid' | 'hostsFile'>;

export interface ProxyWorld {
  dir: string;
  world: World;
  netnsPid: number;
  requests(): Promise<WorldRequests>;
  /** A tinyproxy in the namespace (ports from 3128 up unless given); stopped at the test's end if not before. */
  startProxy(o?: ProxyOptions): Promise<Tinyproxy>;
  /**
   * The bundle as the unit runs it, inside the namespace; `env` is the whole environment besides PATH. `node`: another
   * Node runtime to run it on (test/helpers/node-runtimes.ts).
   */
  postjoin(args: string[], env: NodeJS.ProcessEnv, o?: { timeoutMs?: number; node?: string }): Promise<CliResult>;
  /** A bundled program (main(argv) of a module in the repo) inside the namespace. */
  program(path: string, args: string[], env: NodeJS.ProcessEnv): Promise<CliResult>;
}

export async function needsProxyWorld(t: Test): Promise<boolean> {
  return requireRootAndBins(t, { tinyproxy: 'tinyproxy-bin', nsenter: 'util-linux', unshare: 'util-linux', ip: 'iproute2', openssl: 'openssl' });
}

export async function startProxyWorld(t: Test, node = 'ip-10-0-9-9.us-west-2.compute.internal'): Promise<ProxyWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-proxy-world-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const holder = await startDaemon('unshare', ['--net', '--', 'sleep', 'infinity'], { logFile: join(dir, 'netns.log') });
  t.teardown(() => stopChild(holder));
  const pid = holder.pid!;
  // `unshare` has made the namespace once it has exec'd sleep.
  await waitFor('the network namespace', async () => (await readFile(`/proc/${pid}/comm`, 'utf8')).trim() === 'sleep');
  const inNs = (cmd: string[]) => ['-t', String(pid), '-n', '--', ...cmd];
  await runOk('nsenter', inNs(['ip', 'link', 'set', 'lo', 'up']));
  await runOk('nsenter', inNs(['ip', 'addr', 'add', '169.254.169.254/32', 'dev', 'lo']));
  await runOk('nsenter', inNs(['ip', 'addr', 'add', `${DIRECT_IP}/32`, 'dev', 'lo']));

  const program = join(dir, 'world.cjs');
  await bundleProgram(mainOf('test/helpers/proxy-world-process.ts'), program);
  const worldProcess = await startDaemon('nsenter', inNs([process.execPath, program, dir, node]), { logFile: join(dir, 'world.log') });
  t.teardown(() => stopChild(worldProcess));
  const world = await waitFor('the proxy world', async () => JSON.parse(await readFile(join(dir, 'world.json'), 'utf8')) as World, {
    detail: () => readFile(join(dir, 'world.log'), 'utf8'),
  });
  const hosts = join(dir, 'proxy-hosts');
  await writeFile(hosts, `127.0.0.1 localhost\n${Object.values(PROXY_ONLY).map((n) => `127.0.0.1 ${n}`).join('\n')}\n`);
  const bundles = new Map<string, string>();
  let proxies = 0;

  return {
    dir,
    world,
    netnsPid: pid,
    requests: async () => JSON.parse(await readFile(join(dir, 'requests.json'), 'utf8')) as WorldRequests,
    async startProxy(o = {}) {
      const proxy = await startTinyproxy({ dir, port: 3128 + proxies++, netnsPid: pid, hostsFile: hosts, ...o });
      t.teardown(() => proxy.stop());
      return proxy;
    },
    postjoin: (args, env, o = {}) => inNetns(pid, [o.node ?? process.execPath, BUNDLE, ...args], env, o.timeoutMs ?? 120_000),
    async program(path, args, env) {
      let cjs = bundles.get(path);
      if (!cjs) bundles.set(path, (cjs = await bundleProgram(mainOf(path), join(dir, `program-${bundles.size}.cjs`))));
      return inNetns(pid, [process.execPath, cjs, ...args], env, 60_000);
    },
  };
}

/** A command in the namespace with exactly this environment (plus PATH), its output collected. */
function inNetns(pid: number, cmd: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['-t', String(pid), '-n', '--', ...cmd], {
      env: { PATH: process.env.PATH, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
