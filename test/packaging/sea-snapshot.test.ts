// The x64 single executable starts from a V8 startup snapshot (packaging/sea/build-sea.mjs): the modules `plan`
// and `run` need were initialised when it was built. What was not, loads at run time, after start-up, from a
// script that came out of a snapshot: the AWS SDK (the DescribeInstances fallback), the D-Bus client, the HTTP
// clients, execa (tasks, getent, systemd-notify, the exec plugin). Each such path is run here through the executable itself, against the emulators,
// with nothing on stderr (no "not supported in user snapshots" warning) and nothing of the build machine in it.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startEc2Server } from '../emulators/ec2-server.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { startKubeApiServer } from '../emulators/kube-apiserver.js';
import { startKubeletStub } from '../emulators/kubelet-healthz.js';
import { standinFor } from '../emulators/systemd1-standin.js';
import { requireRootAndBins, startContainerd } from '../harness/index.js';
import { requireReal, which } from '../harness/require-real.js';
import { logLines, runSummary, taskList, workspace } from '../helpers/cli.js';
import { handoffNode, oursOn } from '../helpers/handoff-node.js';
import { SEA, buildArtifacts, envWithoutNode, run } from '../helpers/packaging.js';
// @ts-expect-error -- a plain .mjs without types, read for its one constant
import { EXEC_ARGV } from '../../packaging/sea/v8-flags.mjs';

const INSTANCE = 'i-0a5ea5ea5ea5ea5ea';

async function built(t: Test): Promise<boolean> {
  if (process.arch !== 'x64') return false;
  const strip = async () => (await which('x86_64-linux-gnu-strip')) !== undefined || (await which('strip')) !== undefined;
  if (!(await requireReal(t, 'a strip for x86-64', strip, 'apt-get install -y --no-install-recommends binutils'))) return false;
  const r = await buildArtifacts('sea/build-sea.mjs', ['--arch', 'x64']);
  t.equal(r.status, 0, 'build-sea.mjs --arch x64', { stderr: r.stderr });
  const manifest = JSON.parse(await readFile(join(SEA.x64, '../sea-manifest.json'), 'utf8')) as { arches: { x64: { snapshot: boolean } } };
  t.equal(manifest.arches.x64.snapshot, true, 'built with a startup snapshot');
  return r.status === 0;
}

t.test('plan on the DescribeInstances path: the AWS SDK loads after start-up and reads the tags', async (t) => {
  if (!(await built(t))) return;
  const tags = { 'postjoin:10-prepull': 'pull public.ecr.aws/eks-distro/kubernetes/pause:3.9', 'postjoin:20-wait': 'wait url http://127.0.0.1:4317/', Name: 'n' };
  const imds = await startImdsServer({ instanceId: INSTANCE, region: 'us-east-1', tagsInMetadata: false });
  const ec2 = await startEc2Server({ instances: { [INSTANCE]: tags } });
  t.teardown(() => Promise.all([imds.close(), ec2.close()]));
  const ws = await workspace();
  const config = join(ws.dir, 'tags.yaml');
  await writeFile(config, 'sources: [tags]\nimds: { enabled: true, budget: 20s }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n');
  const env = {
    PATH: '/usr/bin:/bin',
    AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
    AWS_ENDPOINT_URL_EC2: ec2.url,
    AWS_ACCESS_KEY_ID: 'AKIDSNAPSHOT',
    AWS_SECRET_ACCESS_KEY: 'snapshot-secret',
    AWS_CONFIG_FILE: join(ws.dir, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(ws.dir, 'none'),
  };
  const r = await run(SEA.x64, ['plan', '--config', config, '--output', 'json'], { env, cwd: ws.dir });
  t.equal(r.status, 0, r.stderr);
  // stderr holds the verb's logs: here only the one info line that says why the node calls EC2 (issue 19).
  t.same(
    logLines(r.stderr).map((l) => [l.level, l.msg]),
    [['info', 'tags are not in instance metadata (IMDS answered 404), so this node reads them with EC2 DescribeInstances: usual on EKS, where Karpenter never allows tags in metadata and EC2 refuses them when any tag key holds "/" (kubernetes.io/cluster/…)']],
  );
  const plan = JSON.parse(r.stdout) as { tasks: { name: string; source: string }[] };
  t.same(plan.tasks.map((x) => x.source), ['tag:postjoin:10-prepull', 'tag:postjoin:20-wait']);
  t.ok(ec2.requests.length >= 1, 'DescribeInstances was called');
});

t.test('run: readiness over D-Bus and HTTP, then exec, script, file, wait and unit tasks; status reads it back', async (t) => {
  if (!(await built(t))) return;
  const s = await standinFor(t);
  if (!s) return;
  s.unit('containerd.service', { activeState: 'active', subState: 'running' });
  s.unit('example.service', { activeState: 'inactive', subState: 'dead' });
  const kubelet = await startKubeletStub();
  kubelet.setHealthy(true);
  t.teardown(() => kubelet.close());
  const ws = await workspace();
  await writeFile(ws.configPath, `sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\nreadiness: { timeout: 20s, units: [containerd.service], kubeletHealthz: "${kubelet.url}", containerd: false }\n`);
  await ws.task(
    '10.yaml',
    taskList(`  - { name: hello, exec: { command: /bin/sh, args: [-c, "echo hello-from-exec; echo $POSTJOIN_SNAPSHOT_PROBE"] }, env: { POSTJOIN_SNAPSHOT_PROBE: given-at-run-time } }
  - { name: shell, script: "echo script-ran > ${ws.dir}/script" }
  - { name: conf, file: { path: ${ws.dir}/conf, content: "x=1", mode: "0644" } }
  - { name: healthy, wait: { url: "${kubelet.url}" } }
  - { name: restart, unit: { name: example.service, action: restart } }
`),
  );
  const env = { PATH: '/usr/bin:/bin', ...s.env };
  const r = await run(SEA.x64, ['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env, cwd: ws.dir });
  t.equal(r.status, 0, r.stdout.slice(-3000));
  t.equal(r.stderr, '');
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => l.task === 'hello' && l.msg === 'hello-from-exec'), 'the exec task ran and its output was forwarded');
  t.ok(lines.some((l) => l.task === 'hello' && l.msg === 'given-at-run-time'), 'its environment is the one given at run time');
  t.equal(await readFile(join(ws.dir, 'script'), 'utf8'), 'script-ran\n');
  t.equal(await readFile(join(ws.dir, 'conf'), 'utf8'), 'x=1');
  t.ok(s.calls.some((c) => c.startsWith('RestartUnit example.service')), `RestartUnit was called: ${s.calls.join(', ')}`);
  t.match(runSummary(lines), { msg: /^run succeeded: 5 succeeded/ });

  const status = await run(SEA.x64, ['status', '--state-dir', ws.stateDir, '--output', 'json'], { env: { PATH: '/usr/bin:/bin' } });
  t.equal(status.status, 0, status.stderr);
  t.equal(status.stderr, '');
  t.match(JSON.parse(status.stdout), { result: 'succeeded', tasks: [{ name: 'hello' }, { name: 'shell' }, { name: 'conf' }, { name: 'healthy' }, { name: 'restart' }] });
});

t.test('run under a notify socket, with a file owned by a named user: execa loads after start-up for systemd-notify and getent too', async (t) => {
  if (!(await built(t))) return;
  if (!(await requireReal(t, 'python3 (a datagram socket like systemd\'s notify socket)', async () => (await which('python3')) !== undefined, 'apt-get install -y python3'))) return;
  if (!(await requireReal(t, 'systemd-notify', async () => (await which('systemd-notify')) !== undefined, 'apt-get install -y systemd'))) return;
  const ws = await workspace();
  const sock = join(ws.dir, 'notify');
  const listener = spawn('python3', ['-u', '-c', 'import socket, sys\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("ready", flush=True)\nwhile True:\n    print(s.recv(4096).decode(), flush=True)\n', sock]);
  t.teardown(() => void listener.kill());
  let got = '';
  listener.stdout.on('data', (c: Buffer) => (got += c.toString()));
  while (!got.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  await ws.task('10.yaml', taskList(`  - { name: owned, file: { path: ${ws.dir}/owned, content: "x", owner: root, group: root } }\n`));
  const r = await run(SEA.x64, ['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { PATH: '/usr/bin:/bin', NOTIFY_SOCKET: sock } });
  t.equal(r.status, 0, r.stdout.slice(-3000));
  t.equal(r.stderr, '');
  t.ok(logLines(r.stdout).some((l) => l.task === 'owned' && l.msg === `wrote ${ws.dir}/owned`), 'the owner and group were resolved through getent');
  const end = Date.now() + 5000;
  while (!got.includes('STATUS=done: all tasks succeeded') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  t.match(got, /STATUS=done: all tasks succeeded/, 'systemd-notify sent the last status');
});

t.test('run gated on a real containerd: its CRI client (gRPC over HTTP/2) loads after start-up', async (t) => {
  if (!(await built(t))) return;
  if (!(await requireRootAndBins(t, { containerd: 'containerd', ctr: 'containerd' }))) return;
  const ctd = await startContainerd();
  t.teardown(ctd.stop);
  const ws = await workspace();
  await writeFile(ws.configPath, `sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\ncontainerd: { socket: ${ctd.socket} }\nreadiness: { timeout: 20s, units: [], kubeletHealthz: null, containerd: true }\n`);
  await ws.task('10.yaml', taskList('  - { name: after-containerd, exec: { command: /bin/true } }\n'));
  const r = await run(SEA.x64, ['run', '--config', ws.configPath, '--state-dir', ws.stateDir, '--log-level', 'debug'], { env: { PATH: '/usr/bin:/bin' } });
  t.equal(r.status, 0, r.stdout.slice(-3000));
  t.equal(r.stderr, '');
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => /containerd: RuntimeReady=true/.test(String(l.msg))), 'the CRI status was read');
  t.match(runSummary(lines), { msg: /^run succeeded: 1 succeeded/ });
});

t.test('run reports to its Node: the Kubernetes client loads after start-up', async (t) => {
  if (!(await built(t))) return;
  const api = await startKubeApiServer();
  t.teardown(() => api.stop());
  const h = await handoffNode(t, api);
  await h.task('10.yaml', taskList('  - { name: first, exec: { command: /bin/true } }\n'));
  // The credential plugin the kubeconfig names is a script of the test's; it needs the test's PATH.
  const r = await run(SEA.x64, ['run', '--config', h.configPath, '--state-dir', h.stateDir], { env: { ...envWithoutNode(), JOURNAL_STREAM: '', NOTIFY_SOCKET: '' } });
  t.equal(r.status, 0, r.stdout.slice(-3000));
  t.equal(r.stderr, '');
  t.match(oursOn(api, h.node), [{ status: 'True', reason: 'Succeeded' }], 'the Node got its condition');
});

t.test('validate and a failing task: the error paths run from the snapshot too', async (t) => {
  if (!(await built(t))) return;
  const ws = await workspace();
  const bad = await ws.task('10.yaml', taskList('  - { name: x, exec: { command: "" } }\n'));
  const v = await run(SEA.x64, ['validate', bad], { env: { PATH: '/usr/bin:/bin' } });
  t.equal(v.status, 2);
  t.match(v.stdout + v.stderr, /10\.yaml.*exec\.command/s);
  await ws.task('10.yaml', taskList('  - { name: boom, exec: { command: /bin/sh, args: [-c, "echo nope >&2; exit 7"] } }\n'));
  const r = await run(SEA.x64, ['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { PATH: '/usr/bin:/bin' } });
  t.equal(r.status, 1);
  t.equal(r.stderr, '');
  t.ok(logLines(r.stdout).some((l) => l.level === 'error' && /exited with code 7: nope/.test(String(l.msg))));
});

t.test('the V8 flags baked in (build-sea.mjs EXEC_ARGV) are in effect, and 100 MB of task output stay bounded', async (t) => {
  if (!(await built(t))) return;
  const ws = await workspace();
  const preload = join(ws.dir, 'argv.cjs');
  await writeFile(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(join(ws.dir, 'argv.json'))}, JSON.stringify(process.execArgv)));\n`);
  const v = await run(SEA.x64, ['--version'], { env: { PATH: '/usr/bin:/bin', NODE_OPTIONS: `--require ${preload}` } });
  t.equal(v.status, 0, v.stderr);
  t.same(JSON.parse(await readFile(join(ws.dir, 'argv.json'), 'utf8')), EXEC_ARGV);

  await ws.task(
    '10.yaml',
    taskList(`  - { name: chatty, script: "awk 'BEGIN { for (i = 0; i < 2000000; i++) print \\"postjoin says hello, at some length, to fill a line\\" }'; head -c 20000000 /dev/zero | tr '\\\\0' x; echo; echo last-line >&2" }\n  - { name: after, script: "echo after" }\n`),
  );
  const r = await run('/usr/bin/time', ['-f', 'maxrss_kb=%M', SEA.x64, 'run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: { PATH: '/usr/bin:/bin' } });
  t.equal(r.status, 0, r.stderr.slice(-2000));
  const rss = Number(/maxrss_kb=(\d+)/.exec(r.stderr)?.[1]);
  t.ok(rss > 0 && rss < 150 * 1024, `peak RSS ${Math.round(rss / 1024)} MB stays bounded while 120 MB of output pass through`);
  const lines = logLines(r.stdout);
  t.ok(lines.some((l) => l.task === 'chatty' && typeof l.dropped_bytes === 'number' && (l.dropped_bytes as number) > 100_000_000));
  t.ok(lines.some((l) => l.task === 'after' && l.msg === 'after'), 'the next task ran');
});
