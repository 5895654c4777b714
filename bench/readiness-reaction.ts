// Readiness reaction: the time from a readiness condition turning true (kubelet healthz answering ok, or a
// unit turning active) to the first task's spawn. A benchmark, never a timed test.
//
//   node --import=@tapjs/typescript/import bench/readiness-reaction.ts [--tier fast|nspawn|both] [--trials 20] [--json FILE]
//
// - fast: the bundle (dist/postjoin.cjs; `npm run build` first) against the systemd1 stand-in on a private
//   dbus-daemon and a kubelet healthz served by this process. The flip is made at a random moment
//   100-300 ms after the agent has observed every probe at least once.
// - nspawn: the node container of the real-systemd tier (root, the cached rootfs). healthz trials restart the
//   stub kubelet (503 for 2.5 s, then ok; it records the flip) and postjoin; unit trials restart a oneshot
//   that turns active after 2.5 s (its ActiveEnterTimestamp is the flip) and postjoin.
//
// The first task is `/bin/date +%s%6N`: "spawn" is when that process runs, on the same clock as the flip (its
// output comes back as a log line). Also reported, from the agent's log (ms resolution): "observed", the gate
// seeing the condition; "ready", the gate done; "dispatch", the "task ... started" line just before the spawn.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startKubeletStub } from '../test/emulators/kubelet-healthz.js';
import { startSystemd1Standin, type Systemd1Standin } from '../test/emulators/systemd1-standin.js';
import type { Container } from '../test/harness/nspawn.js';
import { removeDir, tempDir, waitFor } from '../test/harness/proc.js';
import { BUNDLE } from '../test/helpers/cli.js';
import { bootNode, nodeConfig } from '../test/helpers/nspawn-node.js';

type Kind = 'healthz' | 'unit';
interface Trial {
  kind: Kind;
  /** ms from the flip to the first task process running. */
  spawnMs: number;
  /** ms from the flip to the agent's "task ... started" line (ms resolution). */
  dispatchMs?: number;
  /** ms from the flip to the gate seeing the condition, and to the gate completing (log lines, ms resolution). */
  observedMs?: number;
  readyMs?: number;
}

const nowMs = () => performance.timeOrigin + performance.now();
const TASKS = `apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n  - { name: stamp, once: false, exec: { command: /bin/date, args: ["+%s%6N"] } }\n`;

async function fastTier(trials: number): Promise<Trial[]> {
  const standin = await startSystemd1Standin();
  const kubelet = await startKubeletStub();
  const url = kubelet.url;
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-'));
  const out: Trial[] = [];
  try {
    await mkdir(join(dir, 'tasks.d'));
    await writeFile(join(dir, 'tasks.d', '10.yaml'), TASKS);
    await writeFile(
      join(dir, 'config.yaml'),
      `sources: [file]\ntasksDir: ${dir}/tasks.d\nimds: { enabled: false }\nreadiness: { timeout: 1m, units: [kubelet.service], kubeletHealthz: "${url}", containerd: false }\n`,
    );
    for (let i = 0; i < trials * 2; i++) {
      const kind: Kind = i % 2 === 0 ? 'healthz' : 'unit';
      kubelet.setHealthy(kind === 'unit');
      standin.unit('kubelet.service', kind === 'healthz' ? { activeState: 'active', subState: 'running' } : { activeState: 'activating', subState: 'start' });
      const lines: string[] = [];
      const child = spawn(process.execPath, [BUNDLE, 'run', '--config', join(dir, 'config.yaml'), '--state-dir', join(dir, `state-${i}`)], {
        // As under systemd, a status reporter that spawns systemd-notify (here to a socket nobody reads).
        env: { ...process.env, ...standin.env, JOURNAL_STREAM: '', NOTIFY_SOCKET: join(dir, 'notify') },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let buf = '';
      child.stdout.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        lines.push(...parts);
      });
      const exited = new Promise<number | null>((r) => child.on('close', r));
      const seen = (p: string) => lines.some((l) => l.includes(`"readiness: ${p}: `));
      await waitFor('the agent to observe both probes', async () => seen('kubelet.service') && seen('kubelet healthz'), { timeoutMs: 30_000, intervalMs: 5 });
      await sleep(100 + Math.random() * 200);
      const flipAt = nowMs();
      if (kind === 'healthz') kubelet.setHealthy(true);
      else standin.setState('kubelet.service', 'active', 'running');
      const code = await exited;
      if (code !== 0) throw new Error(`postjoin run exited ${code}:\n${lines.join('\n')}`);
      out.push(measure(kind, flipAt, lines, 'kubelet.service'));
    }
  } finally {
    await kubelet.close();
    await standin.stop();
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

const GATE_UNIT = '[Unit]\nDescription=slow oneshot the gate waits for (bench)\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/sleep 2.5\n[Install]\nWantedBy=multi-user.target\n';

async function nspawnTier(trials: number): Promise<Trial[]> {
  const state = await tempDir('state');
  const lib = await tempDir('ctdlib');
  let c: Container | undefined;
  const out: Trial[] = [];
  try {
    c = await bootNode({
      stateDir: state,
      containerdLib: lib,
      kubeletHealthyAfterMs: 2500,
      units: { 'gate.service': GATE_UNIT },
      enable: ['gate.service'],
      tasks: { '10-bench.yaml': TASKS },
      config: nodeConfig('{ timeout: 2m, units: [containerd.service, kubelet.service, gate.service], kubeletHealthz: "http://127.0.0.1:10248/healthz", containerd: true }'),
    });
    const node = c;
    const sh = async (...cmd: string[]) => {
      const r = await node.exec(cmd);
      if (r.code !== 0) throw new Error(`${cmd.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    for (let i = 0; i < trials * 2; i++) {
      const kind: Kind = i % 2 === 0 ? 'healthz' : 'unit';
      const before = await sh('systemctl', 'show', '-P', 'InvocationID', 'postjoin.service');
      if (kind === 'healthz') {
        await sh('rm', '-f', '/run/kubelet-healthy-at');
        await sh('systemctl', 'restart', 'kubelet.service');
      } else await sh('systemctl', 'restart', '--no-block', 'gate.service');
      await sh('systemctl', 'restart', '--no-block', 'postjoin.service');
      let invocation = '';
      // Polling the container (nsenter + systemctl) costs CPU right when the agent reacts: wait out most of
      // the flip's delay first, then look twice a second.
      await sleep(2400);
      await waitFor('postjoin to run again and finish', async () => {
        invocation = await sh('systemctl', 'show', '-P', 'InvocationID', 'postjoin.service');
        return invocation !== before && (await sh('systemctl', 'show', '-P', 'SubState', 'postjoin.service')) === 'exited';
      }, { timeoutMs: 60_000, intervalMs: 500 });
      const run = (await sh('journalctl', '--no-pager', `_SYSTEMD_INVOCATION_ID=${invocation}`, '-o', 'cat')).split('\n');
      const flipAt =
        kind === 'healthz'
          ? Number(await sh('cat', '/run/kubelet-healthy-at'))
          : Number((await sh('busctl', 'get-property', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1/unit/gate_2eservice', 'org.freedesktop.systemd1.Unit', 'ActiveEnterTimestamp')).split(' ')[1]) / 1000;
      // Only a flip the agent was already waiting for is a reaction.
      const waited = run.some((l) => (kind === 'healthz' ? l.includes('"readiness: kubelet healthz: HTTP 503') : l.includes('"readiness: gate.service: activating')));
      if (!waited) {
        process.stderr.write(`trial ${i} (${kind}): the agent was not waiting yet at the flip; skipped\n`);
        continue;
      }
      out.push(measure(kind, flipAt, run, 'gate.service'));
    }
  } finally {
    await c?.stop();
    await removeDir(state);
    await removeDir(lib);
  }
  return out;
}

function measure(kind: Kind, flipAt: number, lines: string[], flippingUnit: string): Trial {
  const logs = lines
    .map((l) => l.replace(/^<\d>/, ''))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { time: string; msg: string; task?: string; stream?: string });
  const stamp = logs.find((l) => l.task === 'stamp' && l.stream === 'stdout');
  if (!stamp) throw new Error(`no output from the stamp task:\n${lines.join('\n')}`);
  const at = (re: RegExp) => {
    const hit = logs.find((l) => re.test(l.msg));
    return hit ? Date.parse(hit.time) - flipAt : undefined;
  };
  const observed = kind === 'healthz' ? /^readiness: kubelet healthz: ok$/ : new RegExp(`^readiness: ${flippingUnit.replace('.', '\\.')}: active/`);
  return {
    kind,
    spawnMs: Number(stamp.msg) / 1000 - flipAt,
    observedMs: at(observed),
    readyMs: at(/^node is ready after /),
    dispatchMs: at(/^task stamp \(1\/1\): started$/),
  };
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.round(p * (s.length - 1))))]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, median: r(q(0.5)), p10: r(q(0.1)), p90: r(q(0.9)), min: r(s[0]!), max: r(s.at(-1)!) };
}

function report(tier: string, trials: Trial[]) {
  const rows: Record<string, unknown> = {};
  for (const kind of ['healthz', 'unit'] as const) {
    const ts = trials.filter((x) => x.kind === kind);
    for (const [label, key] of [['observed', 'observedMs'], ['ready', 'readyMs'], ['dispatch', 'dispatchMs'], ['spawn', 'spawnMs']] as const) {
      const xs = ts.map((x) => x[key]).filter((x): x is number => x !== undefined);
      if (xs.length) rows[`${tier} ${kind}: flip -> ${label} (ms)`] = stats(xs);
    }
  }
  rows[`${tier} all: flip -> spawn (ms)`] = stats(trials.map((x) => x.spawnMs));
  return rows;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { values } = parseArgs({ options: { tier: { type: 'string', default: 'fast' }, trials: { type: 'string', default: '20' }, json: { type: 'string' } } });
const n = Number(values.trials);
const results: Record<string, unknown> = {};
const raw: Record<string, Trial[]> = {};
if (values.tier === 'fast' || values.tier === 'both') {
  raw.fast = await fastTier(n);
  Object.assign(results, report('fast', raw.fast));
}
if (values.tier === 'nspawn' || values.tier === 'both') {
  raw.nspawn = await nspawnTier(n);
  Object.assign(results, report('nspawn', raw.nspawn));
}
console.table(results);
if (values.json) await writeFile(values.json, `${JSON.stringify({ results, raw }, null, 2)}\n`);
