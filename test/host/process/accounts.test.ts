// A file task's owner and group are resolved by the system's resolver (getent, so NSS: files, systemd, SSSD,
// LDAP…), not by reading /etc/passwd: on a node joined to a directory, the users are not in that file.
// The proof uses a real NSS source beyond files: nss-systemd, which resolves userdb JSON records. In a private
// mount namespace /run is a fresh tmpfs holding /run/userdb/pjdbuser.user and pjdbgroup.group; those accounts
// exist for getent there and nowhere in /etc/passwd or /etc/group.
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { resolveId } from '../../../src/host/process/accounts.js';
import { requireReal, requireRootAndBins } from '../../harness/require-real.js';
import { run } from '../../harness/proc.js';
import { BUNDLE, logLines, taskList, workspace } from '../../helpers/cli.js';

const UID = 61234;
const GID = 61235;

/** Puts a fake `getent` first in PATH for the rest of the test. */
async function fakeGetent(t: { teardown(fn: () => void): void }, body: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-getent-'));
  await writeFile(join(dir, 'getent'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  const path = process.env.PATH;
  process.env.PATH = `${dir}:${path ?? ''}`;
  t.teardown(() => {
    process.env.PATH = path;
  });
}

t.test('the system resolver: root, nobody and a group resolve as getent says; numeric IDs pass through; an unknown name is a clear failure', async (t) => {
  const getent = async (db: string, name: string) => Number((await run('getent', [db, name])).stdout.split(':')[2]);
  t.equal(await resolveId('user', 'root'), 0);
  t.equal(await resolveId('user', 'nobody'), await getent('passwd', 'nobody'));
  t.equal(await resolveId('group', 'root'), 0);
  const nogroup = (await run('getent', ['group', 'nogroup'])).code === 0 ? 'nogroup' : 'nobody'; // Debian : Amazon Linux
  t.equal(await resolveId('group', nogroup), await getent('group', nogroup));
  t.equal(await resolveId('user', '4321'), 4321, 'a numeric ID is not looked up');
  await t.rejects(resolveId('user', 'no-such-user-here'), { message: 'no user "no-such-user-here" (getent passwd found none)' });
  await t.rejects(resolveId('group', 'no-such-group-here'), { message: 'no group "no-such-group-here" (getent group found none)' });
});

t.test('a resolver that never answers (a hung directory behind NSS) is bounded: the lookup fails naming getent and the limit', async (t) => {
  await fakeGetent(t, 'exec sleep 60');
  const started = Date.now();
  await t.rejects(resolveId('user', 'someone', { timeoutMs: 300 }), { message: 'cannot resolve user "someone": getent passwd did not answer within 300ms' });
  t.ok(Date.now() - started < 5_000, 'it gave up at its limit, not when the resolver ended');
});

t.test('a lookup cut by the run\'s stop says so, and does not wait for the resolver', async (t) => {
  await fakeGetent(t, 'exec sleep 60');
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(new Error('stopped by SIGTERM')), 200);
  const started = Date.now();
  await t.rejects(resolveId('group', 'staff', { signal: ctl.signal }), { message: 'cannot resolve group "staff": getent group was stopped' });
  t.ok(Date.now() - started < 5_000, 'it ended at the stop, not when the resolver did');
});

t.test('a resolver that answers more than 64 KiB is cut there, and named', async (t) => {
  await fakeGetent(t, 'head -c 200000 /dev/zero | tr "\\0" x');
  await t.rejects(resolveId('user', 'someone'), { message: 'cannot resolve user "someone": getent passwd answered more than 64 KiB, which is not one entry' });
});

t.test('a resolver that fails otherwise: its exit code and the first line of its stderr', async (t) => {
  await fakeGetent(t, 'echo "nss: cannot reach the directory" >&2; echo more >&2; exit 5');
  await t.rejects(resolveId('user', 'someone'), { message: 'cannot resolve user "someone": getent passwd failed (exit 5): nss: cannot reach the directory' });
});

/** Runs `script` as root in a private mount namespace whose /run is a tmpfs holding the userdb records. */
async function inUserdbNamespace(dir: string, script: string, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const records = join(dir, 'userdb');
  await mkdir(records, { recursive: true });
  await writeFile(join(records, 'pjdbuser.user'), JSON.stringify({ userName: 'pjdbuser', uid: UID, gid: GID, homeDirectory: '/nonexistent', shell: '/usr/sbin/nologin', disposition: 'regular' }));
  await writeFile(join(records, 'pjdbgroup.group'), JSON.stringify({ groupName: 'pjdbgroup', gid: GID }));
  const setup = `set -e; mount -t tmpfs tmpfs /run; mkdir /run/userdb; cp ${records}/* /run/userdb/; ${script}`;
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', setup], { env: { ...process.env, JOURNAL_STREAM: '', NOTIFY_SOCKET: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('a file task owned by a user and group that only NSS knows (nss-systemd userdb records, absent from /etc/passwd and /etc/group) gets their IDs, through the bundle', async (t) => {
  if (!(await requireRootAndBins(t, { unshare: 'util-linux', mount: 'mount', getent: 'libc-bin' }))) return;
  const probeDir = await mkdtemp(join(tmpdir(), 'postjoin-nss-'));
  const probe = await inUserdbNamespace(probeDir, 'getent passwd pjdbuser; getent group pjdbgroup');
  const nssSystemd = probe.code === 0 && probe.stdout.includes(`pjdbuser:x:${UID}:${GID}:`);
  if (!(await requireReal(t, 'nss-systemd (libnss-systemd, and "systemd" on the passwd and group lines of /etc/nsswitch.conf)', async () => nssSystemd, 'apt-get install -y libnss-systemd'))) return;
  t.notMatch(await readFile('/etc/passwd', 'utf8'), /^pjdbuser:/m, 'the user is not in /etc/passwd');
  t.notMatch(await readFile('/etc/group', 'utf8'), /^pjdbgroup:/m, 'the group is not in /etc/group');

  const ws = await workspace();
  const target = join(ws.dir, 'owned.conf');
  await ws.task('10.yaml', taskList(`  - { name: owned, file: { path: ${target}, content: "x\\n", owner: pjdbuser, group: pjdbgroup } }\n`));
  const r = await inUserdbNamespace(ws.dir, `exec ${process.execPath} ${BUNDLE} run --config ${ws.configPath} --state-dir ${ws.stateDir}`);
  t.equal(r.code, 0, `${r.stdout.slice(-1500)}${r.stderr}`);
  const st = await stat(target);
  t.equal(st.uid, UID, 'owner pjdbuser, resolved through NSS');
  t.equal(st.gid, GID, 'group pjdbgroup, resolved through NSS');
  t.ok(logLines(r.stdout).some((l) => l.task === 'owned' && l.msg === `wrote ${target}`));
});
