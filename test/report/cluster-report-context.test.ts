// What `run` hands the reporter and the tasks: the outcome of a finished run (pure), and the task context
// (POSTJOIN_NODE_NAME, the IMDS facts, the cluster name) read from a real IMDSv2 emulator and a kubeconfig.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { InvalidInput } from '../../src/base/errors.js';
import { createImdsClient } from '../../src/host/aws/imds-client.js';
import { clip, describeOutcome, outcomeOf } from '../../src/report/cluster-outcome.js';
import { resolveNodeName } from '../../src/report/cluster-report.js';
import type { TaskRecord } from '../../src/state/run-state.js';
import { taskContextEnv } from '../../src/runner/task-env.js';
import { StopReason, Stopped } from '../../src/base/stop-reason.js';
import { startImdsServer } from '../emulators/imds-server.js';
import { memoryLogger } from '../helpers/memory-log.js';

const row = (name: string, status: TaskRecord['status'], more: Partial<TaskRecord> = {}): TaskRecord => ({ name, source: `file:/t.yaml#${name}`, kind: 'exec', status, attempts: 1, ...more });

t.test('the outcome of a finished run, by exit code', async (t) => {
  t.same(outcomeOf({ exitCode: 0, counts: { succeeded: 2 } }), { reason: 'Succeeded', counts: { succeeded: 2 } });
  t.same(outcomeOf({ exitCode: 1, message: 'task "b" failed: exit 3', tasks: [row('a', 'succeeded'), row('b', 'failed', { error: 'exit code 3' }), row('c', 'not-run')] }), {
    reason: 'TaskFailed',
    task: 'b',
    source: 'file:/t.yaml#b',
    error: 'exit code 3',
  });
  t.match(
    outcomeOf({ exitCode: 1, tasks: [row('g', 'failed', { error: 'member m failed' }), row('m', 'failed', { group: 'g', error: 'exit 1' })] }),
    { task: 'm', error: 'exit 1' },
    'a failed group: the failed member is named',
  );
  t.same(outcomeOf({ exitCode: 1, message: 'cannot write the state file: ENOSPC', tasks: [] }), { reason: 'TaskFailed', error: 'cannot write the state file: ENOSPC' });
  const invalid = new InvalidInput([
    { source: 'tag:postjoin:10-x', message: 'unknown kind "shell"' },
    { source: 'file:/a.yaml', at: 'tasks[0]', line: 3, message: 'x' },
  ]);
  t.same(outcomeOf({ exitCode: 2, error: invalid, message: 'invalid input' }), { reason: 'InvalidPlan', first: 'tag:postjoin:10-x: unknown kind "shell"', count: 2 });
  t.same(outcomeOf({ exitCode: 2, message: 'usage' }), { reason: 'InvalidPlan', first: 'usage', count: 1 });
  t.same(outcomeOf({ exitCode: 3, message: 'kubelet healthz not ready' }), { reason: 'NotReady', message: 'kubelet healthz not ready' });
  t.same(outcomeOf({ exitCode: 4, message: 'IMDS down' }), { reason: 'SourceError', message: 'IMDS down' });
});

t.test('a SIGTERM makes any failed outcome Stopped; the run deadline does not', async (t) => {
  const term = new AbortController();
  term.abort(StopReason.signal('SIGTERM'));
  t.same(outcomeOf({ exitCode: 1, message: 'stopped by SIGTERM before task "b"', stop: term.signal, tasks: [row('a', 'failed')] }), { reason: 'Stopped', message: 'stopped by SIGTERM before task "b"' });
  t.same(outcomeOf({ exitCode: 3, message: 'x', stop: term.signal }), { reason: 'Stopped', message: 'x' });
  t.same(outcomeOf({ exitCode: 0, counts: {}, stop: term.signal }), { reason: 'Succeeded', counts: {} }, 'a run that finished is not Stopped');
  const deadline = new AbortController();
  deadline.abort(StopReason.deadline(60_000));
  t.match(outcomeOf({ exitCode: 1, message: 'deadline', stop: deadline.signal, tasks: [row('a', 'failed', { error: 'timed out' })] }), { reason: 'TaskFailed', task: 'a' });
});

t.test('a stop before the tasks (exit 1 via Stopped) is Stopped, the run deadline included; a plan or source failure stays what it is', async (t) => {
  const deadline = new AbortController();
  deadline.abort(StopReason.deadline(60_000));
  const waiting = 'the run deadline (runTimeout 1m) passed while waiting for readiness; still not ready: kubelet healthz: HTTP 503';
  t.same(
    outcomeOf({ exitCode: 1, message: waiting, error: new Stopped(waiting), stop: deadline.signal, tasks: [row('a', 'not-run')] }),
    { reason: 'Stopped', message: waiting },
    'the run deadline during readiness: Stopped, not TaskFailed',
  );
  const between = 'the run deadline (runTimeout 1m) passed before task "b"; 1 task not run';
  t.same(outcomeOf({ exitCode: 1, message: between, stop: deadline.signal, tasks: [row('a', 'succeeded'), row('b', 'not-run')] }), { reason: 'Stopped', message: between }, 'the deadline between tasks, no task failed: Stopped');
  // Exits 2 and 4 wait for readiness before they are reported: a SIGTERM in that wait does not make them Stopped.
  const term = new AbortController();
  term.abort(StopReason.signal('SIGTERM'));
  const invalid = new InvalidInput({ source: 'file:/t.yaml', at: 'tasks[0]', line: 2, message: 'unknown kind "shell"' });
  t.same(outcomeOf({ exitCode: 2, error: invalid, message: 'invalid input', stop: term.signal }), { reason: 'InvalidPlan', first: 'file:/t.yaml: tasks[0], line 2: unknown kind "shell"', count: 1 });
  t.same(outcomeOf({ exitCode: 4, message: 'IMDS: /latest/user-data: HTTP 500', stop: term.signal }), { reason: 'SourceError', message: 'IMDS: /latest/user-data: HTTP 500' });
});

t.test('messages are cut to 1 KB of UTF-8, never inside a character', async (t) => {
  const long = describeOutcome({ reason: 'TaskFailed', task: 't', error: 'é'.repeat(2000) });
  t.ok(Buffer.byteLength(long.message) <= 1024);
  t.ok(long.message.endsWith('é…'));
  t.equal(clip('short'), 'short');
});

t.test('the task context: node name, IMDS facts over IMDSv2, the cluster name from the kubeconfig', async (t) => {
  const imds = await startImdsServer({ instanceId: 'i-0feedface0000001', region: 'eu-central-1' });
  t.teardown(() => imds.close());
  const client = createImdsClient({ endpoint: imds.url, budgetMs: 2000 });
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-ctx-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `apiVersion: v1\ncurrent-context: kubelet\ncontexts: [{ name: kubelet, context: { cluster: kubernetes, user: kubelet } }]\nclusters: [{ name: kubernetes, cluster: { server: "https://x", certificate-authority: /etc/kubernetes/pki/ca.crt } }]\nusers: [{ name: kubelet, user: { exec: { apiVersion: client.authentication.k8s.io/v1beta1, command: aws, args: [eks, get-token, --cluster-name, prod-eu, --region, eu-central-1] } } }]\n`,
  );
  t.same(await taskContextEnv({ nodeName: 'ip-10-0-0-1.eu-central-1.compute.internal', imds: (p) => client.getText(p), kubeconfig }), {
    POSTJOIN_NODE_NAME: 'ip-10-0-0-1.eu-central-1.compute.internal',
    POSTJOIN_INSTANCE_ID: 'i-0feedface0000001',
    POSTJOIN_INSTANCE_TYPE: 'm5.large',
    POSTJOIN_REGION: 'eu-central-1',
    POSTJOIN_AVAILABILITY_ZONE: 'eu-central-1a',
    POSTJOIN_CLUSTER_NAME: 'prod-eu',
  });
  t.ok(imds.requests.every((r) => r.withToken || r.method === 'PUT'), 'IMDSv2: every GET carries the session token');
  t.same(await taskContextEnv({ nodeName: 'n', kubeconfig: join(dir, 'absent') }), { POSTJOIN_NODE_NAME: 'n' }, 'IMDS off, no kubeconfig: the node name only');
});

t.test('an IMDS value that cannot be read leaves its variable out, with a warning', async (t) => {
  const mem = memoryLogger();
  const env = await taskContextEnv({
    nodeName: 'n',
    imds: async (p) => {
      if (p.endsWith('instance-type')) throw new Error('no answer within imds.budget (2m)');
      return p.endsWith('availability-zone') ? undefined : 'v';
    },
    log: mem.log,
  });
  t.same(env, { POSTJOIN_NODE_NAME: 'n', POSTJOIN_INSTANCE_ID: 'v', POSTJOIN_REGION: 'v' });
  t.match(mem.messages(), [/instance-type: no answer within imds\.budget \(2m\); tasks run without POSTJOIN_INSTANCE_TYPE/]);
});

t.test('resolveNodeName: the config, else the kubelet environment file, else the host name', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-ctx-'));
  const envFile = join(dir, 'environment');
  await writeFile(envFile, 'NODEADM_KUBELET_ARGS=--hostname-override=i-0abc --v=2\n');
  t.equal(await resolveNodeName({ nodeName: 'given' }, { envFile }), 'given');
  t.equal(await resolveNodeName({ nodeName: null }, { envFile }), 'i-0abc');
  t.equal(await resolveNodeName({ nodeName: null }, { envFile: join(dir, 'none'), hostname: () => 'Box' }), 'box');
});
