// The exec credential protocol with real plugin processes: what the plugin gets (argv, never a shell; env
// entries; KUBERNETES_EXEC_INFO), what it may answer (v1beta1, v1, token or client certificate), caching until
// expiry, and the bounds: a hanging plugin is killed with what it started, a flood is cut, a failure's stderr
// is in the error.
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ExecCredentials, ExecPluginError, runPlugin } from '../../../src/host/kube/exec-credential.js';
import type { ExecConfig } from '../../../src/host/kube/kubeconfig.js';
import { execPlugin } from '../../helpers/exec-plugins.js';
import { alive } from '../../helpers/process-alive.js';

const V1BETA1 = 'client.authentication.k8s.io/v1beta1';
const V1 = 'client.authentication.k8s.io/v1';
const cluster = { server: 'https://127.0.0.1:6443', ca: Buffer.from('CA PEM'), tlsServerName: 'kubernetes' };

function cfg(command: string, more: Partial<ExecConfig> = {}): ExecConfig {
  return { apiVersion: V1BETA1, command, args: [], env: [], interactiveMode: 'IfAvailable', provideClusterInfo: false, ...more };
}
const never = () => new AbortController().signal;

t.test('v1beta1, as nodeadm configures aws eks get-token: argv as given, env entries, KUBERNETES_EXEC_INFO', async (t) => {
  const p = await execPlugin({ kind: 'token', token: 'k8s-aws-v1.abc', expiresInS: 900 });
  const args = ['eks', 'get-token', '--cluster-name', 'my cluster; $(touch /tmp/pwned)', '--region', 'us-west-2'];
  const creds = new ExecCredentials(cfg(p.command, { args, env: [{ name: 'PLUGIN_ENV', value: 'from-kubeconfig' }] }), cluster);
  const c = await creds.get(never(), 5000);
  t.equal(c.token, 'k8s-aws-v1.abc');
  t.ok(c.expiresAt && c.expiresAt > Date.now() + 800_000, 'expirationTimestamp is kept');
  const [call] = await p.calls();
  t.same(call?.argv, args, 'each argument reaches the plugin as one word: no shell');
  t.same(call?.execInfo, { apiVersion: V1BETA1, kind: 'ExecCredential', spec: { interactive: false } });
  t.equal(call?.env.PLUGIN_ENV, 'from-kubeconfig');
});

t.test('v1 with provideClusterInfo gets the cluster; a client certificate is a credential too', async (t) => {
  const p = await execPlugin({ kind: 'cert', certPem: 'CERT PEM', keyPem: 'KEY PEM' });
  const c = await new ExecCredentials(cfg(p.command, { apiVersion: V1, interactiveMode: 'Never', provideClusterInfo: true }), cluster).get(never(), 5000);
  t.equal(c.cert?.toString(), 'CERT PEM');
  t.equal(c.key?.toString(), 'KEY PEM');
  t.equal(c.token, undefined);
  const [call] = await p.calls();
  t.same(call?.execInfo, {
    apiVersion: V1,
    kind: 'ExecCredential',
    spec: { interactive: false, cluster: { server: cluster.server, 'tls-server-name': 'kubernetes', 'certificate-authority-data': Buffer.from('CA PEM').toString('base64') } },
  });
});

t.test('the credential is cached until it expires, and fetched again after invalidate (a 401)', async (t) => {
  const p = await execPlugin({ kind: 'token', token: (n: number) => `token-${n}`, expiresInS: 900 });
  const creds = new ExecCredentials(cfg(p.command), cluster);
  const first = await creds.get(never(), 5000);
  t.equal((await creds.get(never(), 5000)).token, 'token-1', 'cached');
  t.equal((await p.calls()).length, 1);
  creds.invalidate({ token: 'some older one' });
  t.equal((await creds.get(never(), 5000)).token, 'token-1', 'invalidating a credential that is no longer current changes nothing');
  creds.invalidate(first);
  t.equal((await creds.get(never(), 5000)).token, 'token-2');

  const soon = await execPlugin({ kind: 'token', token: (n: number) => `short-${n}`, expiresInS: 5 });
  const short = new ExecCredentials(cfg(soon.command), cluster);
  t.equal((await short.get(never(), 5000)).token, 'short-1');
  t.equal((await short.get(never(), 5000)).token, 'short-2', 'one that expires within the margin is fetched again');

  let clock = Date.now();
  const none = await execPlugin({ kind: 'token', token: (n: number) => `forever-${n}` });
  const forever = new ExecCredentials(cfg(none.command), cluster, () => clock);
  await forever.get(never(), 5000);
  clock += 24 * 3600_000;
  t.equal((await forever.get(never(), 5000)).token, 'forever-1', 'without expirationTimestamp: until the server refuses it');
});

t.test('a failing plugin: its exit code and the last line of its stderr; worth retrying', async (t) => {
  const p = await execPlugin({ kind: 'fail', code: 255, stderr: 'Unable to locate credentials. You can configure credentials by running "aws configure".' });
  const err = await new ExecCredentials(cfg(p.command), cluster).get(never(), 5000).catch((e: unknown) => e);
  t.type(err, ExecPluginError);
  t.equal((err as Error).message, `exec plugin "${p.command}": exited with 255: Unable to locate credentials. You can configure credentials by running "aws configure".`);
  t.equal((err as ExecPluginError).retryable, true);
});

t.test('a plugin that is not there, or prints no ExecCredential, is not worth retrying', async (t) => {
  const missing = await runPlugin(cfg('postjoin-no-such-plugin', { installHint: 'install the AWS CLI v2\nsee docs' }), '{}', never(), 5000).catch((e: unknown) => e);
  t.match(missing, { message: 'exec plugin "postjoin-no-such-plugin": not found in PATH (install the AWS CLI v2)', retryable: false });
  const bad: [object, RegExp][] = [
    [{ kind: 'print', stdout: 'Traceback (most recent call last)' }, /did not print an ExecCredential \(not JSON/],
    [{ kind: 'token', apiVersion: 'client.authentication.k8s.io/v1alpha1' }, /asks for client\.authentication\.k8s\.io\/v1beta1, the plugin answered "client\.authentication\.k8s\.io\/v1alpha1"/],
    [{ kind: 'print', stdout: JSON.stringify({ apiVersion: V1BETA1, kind: 'ExecCredential', status: {} }) }, /neither a token nor a client certificate/],
    [{ kind: 'print', stdout: JSON.stringify({ apiVersion: V1BETA1, kind: 'ExecCredential', status: { clientKeyData: 'k' } }) }, /come together/],
    [{ kind: 'print', stdout: JSON.stringify({ apiVersion: V1BETA1, kind: 'ExecCredential', status: { token: 't', expirationTimestamp: 'tomorrow' } }) }, /expirationTimestamp "tomorrow" is not an RFC 3339 time/],
    [{ kind: 'print', stdout: JSON.stringify({ apiVersion: V1BETA1, kind: 'Status' }) }, /printed kind "Status", not ExecCredential/],
  ];
  for (const [b, want] of bad) {
    const p = await execPlugin(b as Parameters<typeof execPlugin>[0]);
    const err = await new ExecCredentials(cfg(p.command), cluster).get(never(), 5000).catch((e: unknown) => e);
    t.match(err, { message: want, retryable: false });
  }
});

t.test('a hanging plugin is killed at the timeout, with the process it started', async (t) => {
  const pidFile = join(await mkdtemp(join(tmpdir(), 'postjoin-pids-')), 'pids');
  const hang = await execPlugin({ kind: 'hang', pidFile });
  const started = Date.now();
  const err = await new ExecCredentials(cfg(hang.command), cluster).get(never(), 1500).catch((e: unknown) => e);
  const took = Date.now() - started;
  t.match(err, { message: /^exec plugin ".*": no credential within 1s500ms; killed$/, retryable: true });
  t.ok(took < 1500 + 1000, `returned ${took} ms after a 1.5 s timeout`);
  const [leader, grandchild] = (await readFile(pidFile, 'utf8')).split(' ').map(Number);
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(leader!), 'the plugin is dead');
  t.notOk(alive(grandchild!), 'and so is what it started');
});

t.test('the abort signal kills the plugin at once, saying why', async (t) => {
  const pidFile = join(await mkdtemp(join(tmpdir(), 'postjoin-pids-')), 'pids');
  const hang = await execPlugin({ kind: 'hang', pidFile });
  const ctl = new AbortController();
  const started = Date.now();
  const pending = new ExecCredentials(cfg(hang.command), cluster).get(ctl.signal, 60_000).catch((e: unknown) => e);
  while (!(await readFile(pidFile, 'utf8').catch(() => ''))) await new Promise((r) => setTimeout(r, 20));
  ctl.abort(new Error('the run was stopped'));
  const err = await pending;
  t.ok(Date.now() - started < 5000);
  t.match(err, { message: /the run was stopped; killed/, retryable: false });
  const [leader, grandchild] = (await readFile(pidFile, 'utf8')).split(' ').map(Number);
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(leader!));
  t.notOk(alive(grandchild!));
  const already = new AbortController();
  already.abort(new Error('kubernetes.timeout (30s) passed'));
  await t.rejects(runPlugin(cfg(hang.command), '{}', already.signal, 1000), /not started: kubernetes\.timeout \(30s\) passed/);
});

t.test('a plugin that floods stdout is cut at 1 MiB and killed', async (t) => {
  const p = await execPlugin({ kind: 'flood' });
  const err = await new ExecCredentials(cfg(p.command), cluster).get(never(), 10_000).catch((e: unknown) => e);
  t.match(err, { message: /printed more than 1048576 bytes; that is not an ExecCredential; killed/, retryable: false });
});

t.test("systemd's per-service variables (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*) do not reach the plugin, as they reach no task; the rest of the environment does", async (t) => {
  const saved = { ...process.env };
  Object.assign(process.env, { NOTIFY_SOCKET: '/run/systemd/notify-test', WATCHDOG_USEC: '30000000', LISTEN_FDS: '1', PLUGIN_ENV: 'inherited' });
  t.teardown(() => {
    for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'LISTEN_FDS', 'PLUGIN_ENV']) if (saved[k] === undefined) delete process.env[k];
  });
  const p = await execPlugin({ kind: 'token' });
  await new ExecCredentials(cfg(p.command), cluster).get(never(), 5000);
  const [call] = await p.calls();
  t.same(call?.env, { PLUGIN_ENV: 'inherited' }, 'only the ordinary variable arrived');
});

t.test('a plugin that prints its credential and exits, leaving a child that holds its stdout: the credential is used at once, and the child is killed with its group', async (t) => {
  const pidFile = join(await mkdtemp(join(tmpdir(), 'postjoin-pids-')), 'pid');
  const p = await execPlugin({ kind: 'leave', pidFile });
  const started = Date.now();
  const c = await new ExecCredentials(cfg(p.command), cluster).get(never(), 10_000).catch((e: unknown) => e);
  const took = Date.now() - started;
  const child = Number(await readFile(pidFile, 'utf8'));
  t.teardown(() => {
    if (alive(child)) process.kill(child, 'SIGKILL');
  });
  t.match(c, { token: 'left-behind' });
  t.ok(took < 10_000, `returned after ${took} ms, not at the 10 s timeout`);
  await new Promise((r) => setTimeout(r, 100));
  t.notOk(alive(child), 'the child it left in its group is gone');
});

t.test('a plugin that prints more than 1 MiB and then hangs is killed at once, not at its timeout', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-plugin-'));
  const command = join(dir, 'flood-then-hang');
  // SIGPIPE ignored: the write fails once postjoin stops reading, and the plugin goes on living. head's own
  // "Broken pipe" complaint is kept off stderr: whether it arrives before the kill would decide the message's tail.
  await writeFile(command, '#!/bin/sh\ntrap "" PIPE\nhead -c 2000000 /dev/zero 2>/dev/null\nexec sleep 1000\n', { mode: 0o755 });
  const started = Date.now();
  const err = await new ExecCredentials(cfg(command), cluster).get(never(), 20_000).catch((e: unknown) => e);
  const took = Date.now() - started;
  t.match(err, { message: /printed more than 1048576 bytes; that is not an ExecCredential; killed$/, retryable: false });
  t.ok(took < 20_000, `ended after ${took} ms, not at the 20 s timeout`);
});
