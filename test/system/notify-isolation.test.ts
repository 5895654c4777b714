// Under a real systemd (252, systemd-nspawn), with the shipped unit's NotifyAccess=all: a program that a task
// runs cannot talk to systemd as the unit. Before, every task inherited NOTIFY_SOCKET, and a `systemd-notify
// --status=` from a task rewrote the unit's Status: line (or could move its MAINPID).
// (The same variables through the bundle alone: test/runner/task-environment.test.ts.)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { requireReal, requireRootAndBins } from '../harness/require-real.js';
import { defaultRootfs, rootfsReady } from '../harness/nspawn.js';
import { bootNode, nodeDirs } from '../helpers/nspawn-node.js';

const H = 'apiVersion: postjoin/v1alpha1\nkind: TaskList\ntasks:\n';

// The task waits until systemd shows the agent's own "task 1/2" status (sent 100 ms after it is set), then tries
// to overwrite it, then records what systemd holds and what the task saw in its environment.
const status = 'systemctl show --property=StatusText --value postjoin.service';
const hijack = [
  `for i in $(seq 100); do [ "$(${status})" = "task 1/2 hijack" ] && break; sleep 0.1; done`,
  'rc=0; systemd-notify --status=hijacked 2>/var/lib/postjoin/notify.err || rc=$?',
  'echo "$rc" > /var/lib/postjoin/notify.rc',
  'sleep 0.5',
  `${status} > /var/lib/postjoin/status-seen`,
  'echo "${NOTIFY_SOCKET-unset}" > /var/lib/postjoin/notify-socket-seen',
].join('\n');

t.test('under systemd with NotifyAccess=all, a task running `systemd-notify --status=hijacked` does not change the unit\'s StatusText; the agent\'s own status still arrives', async (t) => {
  if (!(await requireRootAndBins(t, { 'systemd-nspawn': 'systemd-container', nsenter: 'util-linux', pgrep: 'procps', containerd: 'containerd', runc: 'runc' }))) return;
  if (!(await requireReal(t, `rootfs at ${defaultRootfs}`, () => rootfsReady(), 'sudo scripts/ensure-rootfs.sh (about 2 min, once)'))) return;
  const { state, lib } = await nodeDirs(t);
  const c = await bootNode({
    stateDir: state,
    containerdLib: lib,
    kubeletHealthyAfterMs: 500,
    nodeadmSleepS: 0,
    install: 'wrapper',
    tasks: { '10-node.yaml': `${H}  - { name: hijack, script: ${JSON.stringify(hijack)} }\n  - { name: after, exec: { command: /bin/true } }\n` },
  });
  t.teardown(() => c.stop());
  const seen = (f: string) => readFile(join(state, f), 'utf8').then((s) => s.trim());
  t.equal(await seen('notify-socket-seen'), 'unset', 'the task had no NOTIFY_SOCKET');
  t.equal(await seen('status-seen'), 'task 1/2 hijack', "systemd still held the agent's status after the task's systemd-notify");
  t.not(await seen('notify.rc'), '0', `systemd-notify could not send (${await seen('notify.err')})`);
  const st = (await c.systemctl('show', '--property=StatusText', '--value', 'postjoin.service')).stdout.trim();
  t.equal(st, 'done: all tasks succeeded', 'and the agent, which keeps NOTIFY_SOCKET, still reports its own status');
});
