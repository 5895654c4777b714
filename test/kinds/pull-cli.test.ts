// End to end through the bundle, as the unit runs it: `postjoin run` waits for containerd's CRI, then pulls.
// A preload records which bundled modules were initialised, to prove gRPC and the ECR client stay unloaded
// until a run needs them (`--version` and `validate` never do).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { buildAndPush, buildImage, pushImage, removeDir, requireRootAndBins, startRegistry } from '../harness/index.js';
import { startEcrServer } from '../emulators/ecr-server.js';
import { logLines, runCli, taskList, workspace } from '../helpers/cli.js';
import { moduleInitWatcher } from '../helpers/module-inits.js';
import { registryAndContainerd } from '../helpers/pull.js';

const BINS = { containerd: 'containerd', ctr: 'containerd', 'docker-registry': 'docker-registry', skopeo: 'skopeo', perl: 'perl-base' };
const ECR = '111122223333.dkr.ecr.us-west-2.amazonaws.com';

async function configFile(dir: string, tasksDir: string, socket: string, timeout = '30s'): Promise<string> {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    path,
    `sources: [file]\ntasksDir: ${tasksDir}\nimds: { enabled: false }\ncontainerd: { socket: ${socket} }\n` +
      `readiness: { timeout: ${timeout}, units: [], kubeletHealthz: null, containerd: true }\n`,
  );
  return path;
}

t.test('postjoin run: containerd probe, then pull, from the bundle', async (t) => {
  if (!(await requireRootAndBins(t, BINS))) return;
  const ws = await workspace();
  t.teardown(() => removeDir(ws.dir));
  const watch = await moduleInitWatcher(ws.dir);
  /** Runs the bundle; returns the result and the bundled modules it initialised. */
  const cli = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const w = watch();
    const r = await runCli(args, { env: { ...w.env, ...env } });
    return { ...r, loaded: await w.loaded() };
  };

  const version = await cli(['--version']);
  t.equal(version.code, 0);
  t.notOk(version.loaded('@grpc/grpc-js'), '--version does not load gRPC');
  t.notOk(version.loaded('client-ecr'), '--version does not load the ECR client');
  t.notOk(version.loaded('src/host/aws/ecr-auth.ts'));

  const { work, reg, ctd } = await registryAndContainerd(t);
  const imgs = await buildAndPush(work, reg, [1, 2, 3].map((i) => ({ name: `cli/app${i}`, tag: '1', index: 200 + i })));
  const refs = JSON.stringify(imgs.map((i) => i.ref));
  await ws.task('10-prepull.yaml', taskList(`  - name: prepull\n    pull: { images: ${refs}, concurrency: 2 }\n`));

  const validate = await cli(['validate', join(ws.tasksDir, '10-prepull.yaml')]);
  t.equal(validate.code, 0, validate.stderr);
  t.notOk(validate.loaded('@grpc/grpc-js'), 'validate does not load gRPC');

  const config = await configFile(ws.dir, ws.tasksDir, ctd.socket);
  const plan = await cli(['plan', '--config', config, '--output', 'json']);
  t.equal(plan.code, 0, plan.stderr);
  t.match(JSON.parse(plan.stdout), { tasks: [{ name: 'prepull', kind: 'pull', pull: { images: imgs.map((i) => i.ref), concurrency: 2, pin: true } }] });

  const run = await cli(['run', '--config', config, '--state-dir', ws.stateDir]);
  t.equal(run.code, 0, 'run exits 0');
  if (run.code !== 0) t.comment(run.stdout);
  t.equal(run.stderr, '', 'nothing on stderr');
  const lines = logLines(run.stdout);
  t.ok(lines.some((l) => /^readiness: containerd: RuntimeReady=true, NetworkReady=false \(reason NetworkPluginNotReady/.test(String(l.msg))), 'probe observation logged');
  for (const img of imgs) t.match(lines.find((l) => l.image === img.ref), { task: 'prepull', digest: img.manifestDigest, pinned: true, pulled: true });
  t.ok(run.loaded('@grpc/grpc-js'), 'run loads gRPC when it needs it');
  t.notOk(run.loaded('client-ecr'), 'a run without ECR images never loads the ECR client');
  const status = await runCli(['status', '--state-dir', ws.stateDir, '--output', 'json']);
  t.match(JSON.parse(status.stdout), { result: 'succeeded', tasks: [{ name: 'prepull', kind: 'pull', status: 'succeeded' }] });

  t.test('exit 3 names the containerd socket when it never answers', async (t) => {
    const gone = join(ws.dir, 'no', 'containerd.sock');
    const cfg = await configFile(ws.dir, ws.tasksDir, gone, '1s');
    const r = await runCli(['run', '--config', cfg, '--state-dir', join(ws.dir, 'state-3')]);
    t.equal(r.code, 3);
    const err = logLines(r.stdout).find((l) => l.level === 'error');
    t.match(err?.msg, `not ready after 1s: containerd: ${gone}: no such socket`);
  });

  t.test('a run that pulls from private ECR loads the ECR client, and gets one token', async (t) => {
    const ecr = await startEcrServer({ password: 'cli-token' });
    t.teardown(ecr.close);
    const auth = await startRegistry({ auth: { user: 'AWS', password: 'cli-token' } });
    t.teardown(auth.stop);
    await mkdir(join(ctd.hostsDir, ECR), { recursive: true });
    await writeFile(join(ctd.hostsDir, ECR, 'hosts.toml'), `server = "http://${auth.host}"\n\n[host."http://${auth.host}"]\n  capabilities = ["pull", "resolve"]\n`);
    const pushed = [];
    for (const i of [1, 2]) pushed.push(await pushImage(work, await buildImage(work, { name: `cli/ecr${i}`, tag: '1', index: 300 + i }), auth.host, { creds: auth.auth }));
    const tasksDir = join(ws.dir, 'ecr-tasks');
    await mkdir(tasksDir);
    await writeFile(join(tasksDir, '10.yaml'), taskList(`  - name: from-ecr\n    pull: { images: ${JSON.stringify(pushed.map((p) => `${ECR}/${p.name}:1`))} }\n`));
    const cfg = await configFile(ws.dir, tasksDir, ctd.socket);
    const env = {
      AWS_ENDPOINT_URL_ECR: ecr.url,
      AWS_ACCESS_KEY_ID: 'AKIDPOSTJOINCLI',
      AWS_SECRET_ACCESS_KEY: 'not-a-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/postjoin-aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/postjoin-aws-credentials',
    };
    const r = await cli(['run', '--config', cfg, '--state-dir', join(ws.dir, 'state-ecr')], env);
    t.equal(r.code, 0, 'run exits 0');
    if (r.code !== 0) t.comment(r.stdout);
    t.equal(r.stderr, '', 'no SDK warning on stderr');
    t.ok(r.loaded('client-ecr/dist-es/ECRClient.js'), 'the ECR client was loaded for this run');
    t.equal(ecr.tokenCalls().length, 1, 'one token for two images');
  });
});
