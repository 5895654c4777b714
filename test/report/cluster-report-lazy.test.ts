// The Kubernetes client loads only when a run reports: `plan`, `validate`, `status`, `--version` and a `report`
// with nothing pending never initialise it, and neither does a run with reporting off. Proven on bundles, where
// esbuild's lazy module wrappers show which modules a process initialised (test/helpers/module-inits.ts).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { BUNDLE, runCli, taskList, workspace } from '../helpers/cli.js';
import { startKubeApiServer } from '../emulators/kube-apiserver.js';
import { bundleProgram } from '../helpers/bundle.js';
import { moduleInitWatcher } from '../helpers/module-inits.js';

const KUBE_MODULES = ['src/host/kube/', 'src/report/cluster-writer.ts'];

t.test('plan, validate, status, --version and a report with nothing pending never load the Kubernetes client', async (t) => {
  const ws = await workspace();
  const watch = await moduleInitWatcher(ws.dir);
  const file = await ws.task('10.yaml', taskList('  - { name: a, script: "true" }\n'));
  const verbs = [['--version'], ['plan', '--config', ws.configPath], ['validate', file], ['status', '--state-dir', ws.stateDir], ['report', '--config', ws.configPath, '--state-dir', ws.stateDir]];
  for (const args of verbs) {
    const w = watch();
    const r = await runCli(args, { env: w.env });
    t.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
    const loaded = await w.loaded();
    for (const m of KUBE_MODULES) t.notOk(loaded(m), `${args[0]} does not load ${m}`);
    t.ok(loaded('src/'), `${args[0]}: the watcher saw the bundle's own modules`);
  }
  const text = await readFile(BUNDLE, 'utf8');
  t.ok(text.includes('"src/host/kube/api-client.ts"'), 'the bundle holds the client, so the above means something');
});

t.test('a run with reporting off never loads the client; the node name is still detected for the tasks', async (t) => {
  const ws = await workspace('kubernetes: { enabled: false }\n');
  const watch = await moduleInitWatcher(ws.dir);
  await ws.task('10.yaml', taskList('  - { name: a, script: "test -n \\"$POSTJOIN_NODE_NAME\\"" }\n'));
  const w = watch();
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir], { env: w.env });
  t.equal(r.code, 0, r.stdout.slice(-2000));
  const loaded = await w.loaded();
  for (const m of ['src/host/kube/api-client.ts', 'src/host/kube/exec-credential.ts', 'src/host/kube/node-api.ts', 'src/report/cluster-writer.ts']) t.notOk(loaded(m), `reporting off: ${m} not loaded`);
  t.ok(loaded('src/host/kube/node-name.ts'), 'the node name is detected (the tasks get POSTJOIN_NODE_NAME)');
});

/** A bundle of a tiny program that uses the report as run.ts will: start, running(), final(). */
async function reporterBundle(dir: string): Promise<string> {
  return bundleProgram(
    `
      import pino from 'pino';
      import { createHost } from './src/host/host.ts';
      import { startClusterReport } from './src/report/cluster-report.ts';
      (async () => {
        const { node, ...cfg } = JSON.parse(process.env.PJ_REPORT_CONFIG);
        const report = await startClusterReport(cfg, { log: pino({ level: 'silent' }), stop: new AbortController().signal, nodeName: node, host: createHost() });
        report.running();
        const record = await report.final({ reason: 'Succeeded', counts: { succeeded: 1 } });
        process.stdout.write(JSON.stringify({ on: report.on, record: record ?? null }));
      })();
    `,
    join(dir, 'reporter.cjs'),
  );
}

function runBundle(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

t.test('the report loads the client only when reporting is on', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-lazy-'));
  const bundle = await reporterBundle(dir);
  const text = await readFile(bundle, 'utf8');
  for (const m of ['src/host/kube/api-client.ts', 'src/host/kube/exec-credential.ts', 'src/report/cluster-writer.ts']) t.ok(text.includes(`"${m}"`), `${m} is in the bundle`);
  const watch = await moduleInitWatcher(dir);
  const api = await startKubeApiServer();
  t.teardown(() => api.stop());
  const node = 'ip-10-0-5-1.us-west-2.compute.internal';
  api.addNode(node);
  const base = { node, nodeName: null, condition: 'postjoin.io/Ready', label: 'postjoin.io/result', events: true, timeoutMs: 10_000 };

  const off = watch();
  const absent = join(dir, 'no-kubeconfig');
  const r1 = await runBundle(bundle, { ...off.env, PJ_REPORT_CONFIG: JSON.stringify({ ...base, enabled: 'auto', kubeconfig: absent }) });
  // auto without the kubeconfig: each report looks for it when it is made, finds none, and sends nothing.
  t.same(JSON.parse(r1.stdout), { on: true, record: null }, r1.stderr);
  const offLoaded = await off.loaded();
  for (const m of KUBE_MODULES) t.notOk(offLoaded(m), `reporting off: ${m} not loaded`);

  const on = watch();
  const kubeconfig = await api.writeKubeconfig({ user: 'token', nodeName: node });
  const r2 = await runBundle(bundle, { ...on.env, PJ_REPORT_CONFIG: JSON.stringify({ ...base, enabled: 'auto', kubeconfig }) });
  t.match(JSON.parse(r2.stdout), { on: true, record: { made: true, reason: 'Succeeded' } }, r2.stderr);
  const onLoaded = await on.loaded();
  for (const m of ['src/host/kube/api-client.ts', 'src/report/cluster-writer.ts']) t.ok(onLoaded(m), `reporting on: ${m} loaded`);
});
