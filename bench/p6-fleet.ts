// P6 fleet simulation: N node boots spread over a window (2,000 over 60 s), each reading its tasks from the
// tags source and validating them, against the IMDS emulator and the EC2 Query emulator with EC2's token
// bucket. Two configurations: tags in instance metadata (IMDS only; expect 0 EC2 calls) and not (IMDS 404, then
// the DescribeInstances fallback, which the bucket throttles).
//
// 2,000 `postjoin plan` processes in 60 s do not fit on 2 cores (P5 measures one plan on the DescribeInstances
// path at about 0.4 s of CPU: 2,000 of them are ~750 CPU-seconds against the 120 two cores have in 60 s), so
// each node is the real code path in-process, at about 15 ms of CPU per node (cpuMsPerNode): `loadPlan` (what
// `plan` and `run` call: sources, tag grammar, policy, validation) with a fresh IMDS client per node, and so a
// fresh EC2 client, credential chain (the instance role from IMDS) and SDK retry state per node, as 2,000
// separate machines would have. The fleet "before" (5 attempts) runs last, in a process of its own.
//
//   node bench/out/p6-fleet.js [--quick] [--nodes 2000] [--window 60] [--json FILE]
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/load-config.js';
import { maxAttempts } from '../src/host/aws/ec2-describe-tags.js';
import { allTasks } from '../src/plan/task.js';
import { silentLogger } from '../src/report/logger.js';
import { hostFor, loadPlan } from '../src/verbs/load-plan.js';
import { benchArgs, log, quantile, round, seededRandom, sleep, stats, writeResult } from './lib/common.js';

const args = benchArgs({ nodes: { type: 'string' }, window: { type: 'string' }, configs: { type: 'string' } });
const nodes = Number(args.values.nodes ?? (args.quick ? 300 : 2000));
const windowS = Number(args.values.window ?? (args.quick ? 9 : 60));
const configs = String(args.values.configs ?? 'imds-tags,describe-instances,describe-instances-5-attempts').split(',');
const EXPECTED_TASKS = 3;

interface EmulatorStats {
  ec2Calls: number;
  ec2Throttled: number;
  ec2ByCode: Record<string, number>;
  imdsCalls: number;
  imdsByPath: Record<string, number>;
  imdsFailed: number;
}

async function startEmulators(tagsInMetadata: boolean) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('p6-emulators.js', import.meta.url)), '--tags-in-metadata', String(tagsInMetadata)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const queue: ((line: string) => void)[] = [];
  lines.on('line', (l) => queue.shift()?.(l));
  const next = () => new Promise<string>((resolve) => queue.push(resolve));
  const urls = JSON.parse(await next()) as { imds: string; ec2: string };
  return {
    ...urls,
    async stats(): Promise<EmulatorStats> {
      const line = next();
      child.stdin!.write('stats\n');
      return JSON.parse(await line) as EmulatorStats;
    },
    async stop() {
      child.stdin!.end();
      await new Promise((r) => child.once('close', r));
    },
  };
}

async function simulate(name: string, tagsInMetadata: boolean) {
  const emu = await startEmulators(tagsInMetadata);
  const home = await mkdtemp(join(tmpdir(), 'postjoin-bench-p6-'));
  // Every AWS endpoint is an emulator on 127.0.0.1; credentials come from the emulated instance role, and
  // nothing of this machine's AWS configuration is read.
  Object.assign(process.env, {
    AWS_EC2_METADATA_SERVICE_ENDPOINT: emu.imds,
    AWS_ENDPOINT_URL_EC2: emu.ec2,
    AWS_CONFIG_FILE: join(home, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
  });
  for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_REGION', 'AWS_DEFAULT_REGION']) delete process.env[k];
  const config = parseConfig(
    // A unit task from tags needs policy.units to name it (issue 11); the fleet's tags hold one.
    { sources: ['tags'], imds: { enabled: true, budget: '2m' }, readiness: { units: [], kubeletHealthz: null, containerd: false }, policy: { units: ['amazon-cloudwatch-agent.service'] } },
    'bench/p6 (inline)',
  );
  const log = silentLogger();
  const random = seededRandom(7);
  const schedule = Array.from({ length: nodes }, () => random() * windowS * 1000).sort((a, b) => a - b);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const toConfigMs: number[] = [];
  const startLagMs: number[] = [];
  const failures = new Map<string, number>();
  let done = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const boot = async (at: number) => {
    const start = performance.now();
    startLagMs.push(start - t0 - at);
    try {
      const plan = await loadPlan(config, log, hostFor(config, log));
      const n = allTasks(plan).length;
      if (n !== EXPECTED_TASKS) throw new Error(`got ${n} tasks instead of ${EXPECTED_TASKS}`);
      toConfigMs.push(performance.now() - start);
    } catch (err) {
      const reason = (err as Error).message.replace(/i-[0-9a-f]+/g, 'i-…').replace(/after \d+ attempt\(s\)/, 'after N attempt(s)').slice(0, 300);
      failures.set(reason, (failures.get(reason) ?? 0) + 1);
    } finally {
      done++;
    }
  };
  const running: Promise<void>[] = [];
  const progress = setInterval(() => log_(`p6 ${name}: ${round((performance.now() - t0) / 1000, 0)} s, ${done}/${nodes} nodes done`), 15_000);
  try {
    for (const at of schedule) {
      const wait = at - (performance.now() - t0);
      if (wait > 1) await sleep(wait);
      running.push(boot(at));
    }
    await Promise.all(running);
  } finally {
    clearInterval(progress);
    lag.disable();
  }
  const wallS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const s = await emu.stats();
  await emu.stop();
  await rm(home, { recursive: true, force: true });
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  const failedBy = (re: RegExp) => [...failures].filter(([k]) => re.test(k)).reduce((a, [, n]) => a + n, 0);
  const eventLoopDelayP99Ms = round(lag.percentile(99) / 1e6, 1);
  const result = {
    tagsInMetadata,
    nodes,
    windowS,
    failedFetches: failed,
    failures: Object.fromEntries(failures),
    /** Failures by cause: EC2 throttling outlasting the retries, or the SDK's IMDS credential lookup (1 s timeout). */
    failedThrottled: failedBy(/RequestLimitExceeded/),
    failedCredentials: failedBy(/CredentialsProviderError/),
    timeToConfigMs: { ...stats(toConfigMs, 0), p50: round(quantile(toConfigMs, 0.5), 0), p99: round(quantile(toConfigMs, 0.99), 0) },
    ec2Calls: s.ec2Calls,
    ec2Throttled: s.ec2Throttled,
    ec2ByCode: s.ec2ByCode,
    imdsCalls: s.imdsCalls,
    imdsByPath: s.imdsByPath,
    imdsFailed: s.imdsFailed,
    wallS: round(wallS, 1),
    /** The simulation's own health: how late boots started, and the event loop's delay (ms). */
    startLagMs: stats(startLagMs, 0),
    cpuMsPerNode: round((cpu.user + cpu.system) / 1000 / nodes, 1),
    eventLoopDelayP99Ms,
    /** The simulation itself ran short of CPU (event loop delay p99 over 250 ms): its timings and any credential failures are suspect. */
    starved: eventLoopDelayP99Ms > 250,
  };
  log_(
    `p6 ${name}: ${failed} failed of ${nodes}; time to config p50 ${result.timeToConfigMs.p50} ms, p99 ${result.timeToConfigMs.p99} ms; ` +
      `EC2 calls ${s.ec2Calls} (${s.ec2Throttled} throttled); IMDS calls ${s.imdsCalls}; ${result.wallS} s`,
  );
  return result;
}

function log_(line: string) {
  log(line);
}

/**
 * "Before": the same fleet with the 5 attempts the DescribeInstances fallback made until this benchmark showed
 * they were not enough (AWS_MAX_ATTEMPTS=5, which the fallback honours), in a process of its own against
 * emulators (and so a token bucket) of its own. It runs after "after", not beside it: two fleets at once need
 * more CPU than 2 busy cores have, and a starved simulation times out the SDK's IMDS credential lookup (1 s,
 * no retry), failing fetches that a real node, with its own CPU, would not.
 */
async function simulateBefore(): Promise<unknown> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-bench-p6b-'));
  try {
    const json = join(dir, 'before.json');
    const self = fileURLToPath(import.meta.url);
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [self, '--configs', 'describe-instances', '--nodes', String(nodes), '--window', String(windowS), '--json', json], {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, AWS_MAX_ATTEMPTS: '5' },
      });
      child.on('close', resolve);
    });
    if (code !== 0) throw new Error(`the "before" fleet exited ${code}`);
    const r = JSON.parse(await readFile(json, 'utf8')) as Record<string, unknown>;
    return { ...(r['describe-instances'] as object), maxAttempts: 5 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const out: Record<string, unknown> = {
  mode: 'in-process: the real loadPlan code path per node (fresh IMDS client, EC2 client, credentials and SDK retry state per node)',
  nodes,
  windowS,
  ec2TokenBucket: { capacity: 100, refillPerSecond: 20 },
};
if (configs.includes('imds-tags')) out['imds-tags'] = await simulate('imds-tags', true);
if (configs.includes('describe-instances')) out['describe-instances'] = { ...(await simulate('describe-instances', false)), maxAttempts: maxAttempts() };
if (configs.includes('describe-instances-5-attempts')) out['describe-instances-5-attempts'] = await simulateBefore();
await writeResult(args.json, out);
