// An "EKS node" in systemd-nspawn for the real-systemd tier: stub nodeadm-run and kubelet units, the real
// containerd, and postjoin installed from this repo in one of two ways:
// - 'install.sh': packaging/install.sh --root into a temp dir, given the bundle; its /usr/bin/postjoin
//   launcher, /usr/libexec/postjoin, /usr/lib/systemd/system/postjoin.service and the enable link are bound in.
// - 'wrapper': the real systemd/postjoin.service and postjoin-report.service as they are, with a /usr/bin/postjoin
//   wrapper that runs the bundle.
// Either way /etc/postjoin/config.yaml and tasks.d are the test's.
import { access, copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootContainer, containerdBinaries, containerdUnit, type Bind, type Container } from '../harness/nspawn.js';
import { removeDir, runOk, tempDir } from '../harness/proc.js';
import { BUNDLE, ROOT } from './cli.js';

export const BUNDLE_IN_CONTAINER = '/usr/local/lib/postjoin/postjoin.cjs';

/**
 * /usr/bin/postjoin, as the unit's ExecStart names it. A wrapper rather than an edited ExecStart, so the unit
 * file is installed exactly as shipped. (packaging/bundle-launcher.sh is the shipped equivalent; it looks for
 * AL2023's /usr/bin/node-NN, which this Debian rootfs does not have.)
 */
export const WRAPPER = `#!/bin/sh\nexec /usr/local/bin/node ${BUNDLE_IN_CONTAINER} "$@"\n`;

/** nodeadm-run.service on AL2023 is a oneshot that stays active; this one just takes its time. */
export const nodeadmRunUnit = (sleepS: number) => `[Unit]
Description=stub nodeadm-run (test)
After=containerd.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "nodeadm-run: configuring the node"; sleep ${sleepS}; echo "nodeadm-run: done"'
[Install]
WantedBy=multi-user.target
`;

/** kubelet's healthz on 127.0.0.1:10248: 503 until HEALTHY_AFTER_MS, then 200 "ok". Records when it flipped. */
export const STUB_KUBELET = `const http = require('node:http');
const fs = require('node:fs');
const after = Number(process.env.HEALTHY_AFTER_MS || 3000);
let healthyAt = 0;
http.createServer((req, res) => {
  if (req.url !== '/healthz') { res.statusCode = 404; return res.end(); }
  if (healthyAt) return res.end('ok');
  res.statusCode = 503;
  res.end('[-]syncloop failed: stub kubelet is starting');
}).listen(10248, '127.0.0.1', () => {
  console.log('stub kubelet: healthz answers 503 for ' + after + ' ms');
  setTimeout(() => {
    healthyAt = Date.now();
    fs.writeFileSync('/run/kubelet-healthy-at', String(healthyAt));
    console.log('stub kubelet: healthz is ok from now on');
  }, after);
});
`;

export const kubeletUnit = (healthyAfterMs: number) => `[Unit]
Description=stub kubelet (test)
After=containerd.service
[Service]
Environment=HEALTHY_AFTER_MS=${healthyAfterMs}
ExecStart=/usr/local/bin/node /usr/local/lib/stub-kubelet.js
[Install]
WantedBy=multi-user.target
`;

export interface NodeOptions {
  /** Host dir bound at /var/lib/postjoin; the same dir again is a reboot. */
  stateDir: string;
  /** Host dir bound at /var/lib/containerd (overlayfs snapshots cannot stack on the volatile root). */
  containerdLib: string;
  /** /etc/postjoin/tasks.d/<file> -> content. */
  tasks: Record<string, string>;
  config?: string;
  kubeletHealthyAfterMs?: number;
  nodeadmSleepS?: number;
  /** More unit files, e.g. the stub units that unit tasks start. */
  units?: Record<string, string>;
  enable?: string[];
  /** Default: 'install.sh' when packaging/install.sh exists, else 'wrapper'. */
  install?: 'install.sh' | 'wrapper';
  /**
   * false: postjoin.service is installed but not enabled, so the test starts it (systemctl start) once what it
   * needs in the container's network namespace is up. Only with install 'wrapper'.
   */
  enablePostjoin?: boolean;
  /** More binds, and more files (container path -> content). */
  binds?: Bind[];
  files?: Record<string, string>;
}

export const INSTALL_SH = join(ROOT, 'packaging/install.sh');

export const nodeConfig = (readiness = '{ timeout: 2m, units: [containerd.service, kubelet.service], kubeletHealthz: "http://127.0.0.1:10248/healthz", containerd: true }') =>
  `apiVersion: postjoin/v1alpha1
kind: AgentConfig
sources: [file]
imds: { enabled: false }
readiness: ${readiness}
`;

let bundleCopy: Promise<string> | undefined;

/**
 * A private copy of dist/postjoin.cjs, made once per test process: other test runs rebuild dist/ at any
 * moment, and a bind mount would show the container a file being rewritten.
 */
export function bundleForContainer(): Promise<string> {
  bundleCopy ??= (async () => {
    const dir = await tempDir('bundle');
    const copy = join(dir, 'postjoin.cjs');
    await copyFile(BUNDLE, copy);
    return copy;
  })();
  return bundleCopy;
}

let installed: Promise<string> | undefined;

/** packaging/install.sh --binary <bundle> --root <dir>, once per test process; returns the root. */
export function installTree(): Promise<string> {
  installed ??= (async () => {
    const root = await tempDir('inst');
    await runOk('bash', [INSTALL_SH, '--binary', await bundleForContainer(), '--root', root]);
    return root;
  })();
  return installed;
}

export async function bootNode(opts: NodeOptions): Promise<Container> {
  const method = opts.install ?? ((await access(INSTALL_SH).then(() => true, () => false)) ? 'install.sh' : 'wrapper');
  await mkdir(opts.containerdLib, { recursive: true });
  const binds: Bind[] = [
    { host: process.execPath, container: '/usr/local/bin/node', ro: true },
    ...(await containerdBinaries()),
    { host: opts.containerdLib, container: '/var/lib/containerd' },
    ...(opts.binds ?? []),
  ];
  const extraFiles: Record<string, string> = {
    '/usr/local/lib/stub-kubelet.js': STUB_KUBELET,
    // The rootfs's own /etc/machine-id is kept: it is the instance ID for once-state (imds is off here), the
    // same on every boot of the image, as on a real instance.
    '/etc/postjoin/config.yaml': opts.config ?? nodeConfig(),
    ...opts.files,
  };
  for (const [file, content] of Object.entries(opts.tasks)) extraFiles[`/etc/postjoin/tasks.d/${file}`] = content;
  const units: Record<string, string> = {
    'containerd.service': containerdUnit,
    'nodeadm-run.service': nodeadmRunUnit(opts.nodeadmSleepS ?? 2),
    'kubelet.service': kubeletUnit(opts.kubeletHealthyAfterMs ?? 4000),
    ...opts.units,
  };
  const enable = ['containerd.service', 'nodeadm-run.service', 'kubelet.service', ...(opts.enable ?? [])];
  let unitsDir: string | undefined;
  if (opts.enablePostjoin === false && method !== 'wrapper') throw new Error("bootNode: enablePostjoin: false needs install: 'wrapper'");
  if (method === 'install.sh') {
    const root = await installTree();
    for (const p of ['/usr/bin/postjoin', '/usr/libexec/postjoin', '/usr/lib/systemd/system/postjoin.service', '/usr/lib/systemd/system/postjoin-report.service']) {
      binds.push({ host: join(root, p), container: p, ro: true });
    }
    // install.sh enabled the unit offline: its multi-user.target.wants link comes along.
    unitsDir = join(root, 'etc/systemd/system');
  } else {
    binds.push({ host: await bundleForContainer(), container: BUNDLE_IN_CONTAINER, ro: true });
    extraFiles['/usr/bin/postjoin'] = WRAPPER;
    units['postjoin.service'] = await readFile(join(ROOT, 'systemd/postjoin.service'), 'utf8');
    units['postjoin-report.service'] = await readFile(join(ROOT, 'systemd/postjoin-report.service'), 'utf8');
    if (opts.enablePostjoin !== false) enable.push('postjoin.service');
  }
  return bootContainer({
    units,
    unitsDir,
    enable,
    writableUnits: true,
    stateDir: opts.stateDir,
    binds,
    extraFiles,
    bootTimeoutMs: 120_000,
  });
}

export interface JournalEntry {
  MESSAGE?: string;
  PRIORITY?: string;
  _PID?: string;
  UNIT?: string;
  _SYSTEMD_UNIT?: string;
  SYSLOG_IDENTIFIER?: string;
  JOB_TYPE?: string;
  JOB_RESULT?: string;
  __REALTIME_TIMESTAMP: string;
  [k: string]: unknown;
}

/** The whole journal of this boot as entries (journalctl -o json), MESSAGE decoded when it came as bytes. */
export async function journalEntries(c: Container, args: string[] = []): Promise<JournalEntry[]> {
  const r = await c.exec(['journalctl', '--no-pager', '-b', '-o', 'json', ...args]);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const e = JSON.parse(l) as JournalEntry;
      if (Array.isArray(e.MESSAGE)) e.MESSAGE = Buffer.from(e.MESSAGE as number[]).toString('utf8');
      return e;
    });
}

/** Microseconds since the epoch, from a journal entry. */
export const usOf = (e: JournalEntry) => BigInt(e.__REALTIME_TIMESTAMP);

/** A fresh state dir and containerd dir for one node, removed when the test ends (bind them into bootNode). */
export async function nodeDirs(t: { teardown(fn: () => unknown): void }): Promise<{ state: string; lib: string }> {
  const state = await tempDir('state');
  const lib = await tempDir('ctdlib');
  t.teardown(() => Promise.all([removeDir(state), removeDir(lib)]));
  return { state, lib };
}
