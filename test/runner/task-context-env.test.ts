// Every task's environment, through the bundle (design §4, issue 12 point 2): POSTJOIN_NODE_NAME and
// POSTJOIN_TASK always; with IMDS on (an IMDSv2 emulator) the instance id, type, region and zone; the cluster name
// from the kubeconfig's exec plugin; a task's own env wins. The context is not part of the once-state hash: a
// once task done on one boot is skipped on the next even when the context changed.
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { startImdsServer } from '../emulators/imds-server.js';
import { startKubeApiServer, type KubeStandIn } from '../emulators/kube-apiserver.js';
import { logLines, runCli, taskList, workspace, type CliResult } from '../helpers/cli.js';
import { emulatedAwsEnv } from '../helpers/fake-node.js';
import { CLUSTER, handoffNode } from '../helpers/handoff-node.js';

let api: KubeStandIn;
t.before(async () => {
  api = await startKubeApiServer();
});
t.teardown(() => api.stop());

const CONTEXT_KEYS = ['POSTJOIN_NODE_NAME', 'POSTJOIN_TASK', 'POSTJOIN_INSTANCE_ID', 'POSTJOIN_INSTANCE_TYPE', 'POSTJOIN_REGION', 'POSTJOIN_AVAILABILITY_ZONE', 'POSTJOIN_CLUSTER_NAME'];

/** The context variables as a task printed them (KEY=VALUE lines of /usr/bin/env, forwarded to the journal). */
function printed(r: CliResult, task: string): Record<string, string> {
  const lines = logLines(r.stdout).filter((l) => l.task === task && l.stream === 'stdout').map((l) => String(l.msg));
  const env = Object.fromEntries(lines.filter((m) => m.includes('=')).map((m) => [m.slice(0, m.indexOf('=')), m.slice(m.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).filter(([k]) => CONTEXT_KEYS.includes(k)));
}

const ENV_TASKS = `  - { name: exec-env, exec: { command: /usr/bin/env } }
  - { name: script-env, script: env }
  - { name: own-env, exec: { command: /usr/bin/env }, env: { POSTJOIN_NODE_NAME: mine, POSTJOIN_REGION: elsewhere } }
`;

t.test('with IMDS on and a kubeconfig: node name, task name, instance facts and cluster name; a task\'s own env wins', async (t) => {
  const imds = await startImdsServer({ instanceId: 'i-0ctx00000000000001', region: 'eu-west-1' });
  t.teardown(() => imds.close());
  const h = await handoffNode(t, api, { more: 'sources: [file]\nimds: { enabled: true, budget: 5s }' });
  await h.task('10.yaml', taskList(ENV_TASKS));
  const r = await h.run({ env: emulatedAwsEnv(h.dir, { imds: imds.url }) });
  t.equal(r.code, 0, r.stdout.slice(-3000));
  const context = {
    POSTJOIN_NODE_NAME: h.node,
    POSTJOIN_INSTANCE_ID: 'i-0ctx00000000000001',
    POSTJOIN_INSTANCE_TYPE: 'm5.large',
    POSTJOIN_REGION: 'eu-west-1',
    POSTJOIN_AVAILABILITY_ZONE: 'eu-west-1a',
    POSTJOIN_CLUSTER_NAME: CLUSTER,
  };
  t.same(printed(r, 'exec-env'), { ...context, POSTJOIN_TASK: 'exec-env' }, 'exec: the whole context');
  t.same(printed(r, 'script-env'), { ...context, POSTJOIN_TASK: 'script-env' }, 'script: the same');
  t.same(printed(r, 'own-env'), { ...context, POSTJOIN_TASK: 'own-env', POSTJOIN_NODE_NAME: 'mine', POSTJOIN_REGION: 'elsewhere' }, "the task's own env wins");
  t.ok(imds.requests.filter((q) => q.method === 'GET').every((q) => q.withToken), 'IMDSv2 only');
});

t.test('IMDS off and reporting off: the node name is still detected (the host name, as the kubelet would), the task name set', async (t) => {
  const ws = await workspace('kubernetes: { enabled: false }\n');
  await ws.task('10.yaml', taskList(ENV_TASKS));
  const r = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(r.code, 0, r.stdout.slice(-3000));
  t.same(printed(r, 'exec-env'), { POSTJOIN_NODE_NAME: hostname().trim().toLowerCase(), POSTJOIN_TASK: 'exec-env' }, 'only what is known: no IMDS facts, no cluster name');
});

t.test('the context is not part of the once-state hash: a once task stays done when the node name changes', async (t) => {
  const ws = await workspace();
  const marker = join(ws.dir, 'runs');
  await ws.task('10.yaml', taskList(`  - { name: once-env, script: "echo $POSTJOIN_NODE_NAME >> ${marker}" }\n`));
  const base = `sources: [file]\ntasksDir: ${ws.tasksDir}\nimds: { enabled: false }\nreadiness: { units: [], kubeletHealthz: null, containerd: false }\n`;
  await writeFile(ws.configPath, `${base}kubernetes: { enabled: false, nodeName: node-a }\n`);
  const first = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(first.code, 0, first.stdout.slice(-2000));
  await writeFile(ws.configPath, `${base}kubernetes: { enabled: false, nodeName: node-b }\n`);
  const second = await runCli(['run', '--config', ws.configPath, '--state-dir', ws.stateDir]);
  t.equal(second.code, 0);
  t.ok(logLines(second.stdout).some((l) => l.task === 'once-env' && /already done on this instance with this content; skipped/.test(String(l.msg))), 'skipped on the second run');
  t.equal(await readFile(marker, 'utf8'), 'node-a\n', 'ran once, with the first node name');
});
