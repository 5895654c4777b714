// The AL2023 RPMs (npm run build:rpm), inspected the way an image pipeline would meet them: rpm -qlp,
// --requires, --scripts, and the payload itself, unpacked and run.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { requireReal, which } from '../harness/require-real.js';
import { BUNDLE } from '../helpers/cli.js';
import { ROOT, RPMS, SEA, VERSION, buildArtifacts, readElf, EM_AARCH64, EM_X86_64, run } from '../helpers/packaging.js';

type Variant = keyof typeof RPMS;
const MiB = 1024 * 1024;

/** Every RPM ships these; the single-executable ones nothing more, the noarch one the bundle beside its launcher. */
const COMMON_FILES = [
  '/etc/postjoin',
  '/etc/postjoin/config.yaml',
  '/etc/postjoin/tasks.d',
  '/usr/bin/postjoin',
  '/usr/lib/systemd/system/postjoin-report.service',
  '/usr/lib/systemd/system/postjoin.service',
  '/usr/share/doc/postjoin',
  '/usr/share/doc/postjoin/README.md',
  '/usr/share/postjoin',
  '/usr/share/postjoin/postjoin-tasks.schema.json',
  '/var/lib/postjoin',
];
const BUNDLE_FILES = ['/usr/libexec/postjoin', '/usr/libexec/postjoin/postjoin.cjs'];

const ready = (async (): Promise<boolean> => {
  // Probing happens in a throwaway test so that a skip is reported once, here, with the reason.
  let ok = false;
  await t.test('rpmbuild and the single executables are available', async (t) => {
    for (const bin of ['rpmbuild', 'rpm2archive']) {
      const found = async () => (await which(bin)) !== undefined;
      if (!(await requireReal(t, bin, found, 'apt-get install -y --no-install-recommends rpm'))) return;
    }
    const armStrip = async () => (await which('aarch64-linux-gnu-strip')) !== undefined || (await which('llvm-strip')) !== undefined;
    if (!(await requireReal(t, 'a strip for aarch64', armStrip, 'apt-get install -y --no-install-recommends binutils-aarch64-linux-gnu'))) return;
    const built = await buildArtifacts('rpm/build-rpm.mjs');
    t.equal(built.status, 0, 'build-rpm.mjs', { stderr: built.stderr });
    ok = built.status === 0;
  });
  return ok;
})();

async function rpmQuery(variant: Variant, args: string[]): Promise<string> {
  const r = await run('rpm', ['-qp', ...args, RPMS[variant]]);
  if (r.status !== 0) throw new Error(`rpm -qp ${args.join(' ')} ${RPMS[variant]}: ${r.stderr}`);
  return r.stdout;
}

/** Unpacks an RPM's payload into a fresh directory, removed when the test ends. */
async function unpack(t: Test, variant: Variant): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `postjoin-rpm-${variant}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const r = await run('/bin/sh', ['-c', 'rpm2archive -n - < "$1" | tar -xf - -C "$2"', 'sh', RPMS[variant], dir]);
  if (r.status !== 0) throw new Error(`unpacking ${RPMS[variant]}: ${r.stderr}`);
  return dir;
}

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

t.test('names, arches and file lists (rpm -qlp)', async (t) => {
  if (!(await ready)) return;
  const expect: Record<Variant, [string, string, string[]]> = {
    x86_64: ['postjoin', 'x86_64', COMMON_FILES],
    aarch64: ['postjoin', 'aarch64', COMMON_FILES],
    noarch: ['postjoin-node', 'noarch', [...COMMON_FILES, ...BUNDLE_FILES].sort()],
  };
  for (const [variant, [name, arch, files]] of Object.entries(expect) as [Variant, [string, string, string[]]][]) {
    t.equal(await rpmQuery(variant, ['--qf', '%{NAME} %{VERSION} %{ARCH}']), `${name} ${VERSION} ${arch}`, variant);
    const listed = (await rpmQuery(variant, ['-l'])).trim().split('\n');
    t.same(listed, files, `${variant}: rpm -qlp`);
    const bytes = (await readFile(RPMS[variant])).length;
    t.comment(`${RPMS[variant].slice(ROOT.length + 1)}: ${(bytes / MiB).toFixed(1)} MiB`);
  }
});

t.test('modes, owners and the noreplace config', async (t) => {
  if (!(await ready)) return;
  for (const variant of Object.keys(RPMS) as Variant[]) {
    const rows = (await rpmQuery(variant, ['--qf', '[%{FILENAMES}\t%{FILEMODES:perms}\t%{FILEFLAGS:fflags}\t%{FILEUSERNAME}:%{FILEGROUPNAME}\n]']))
      .trim()
      .split('\n')
      .map((l) => l.split('\t'));
    const byPath = new Map(rows.map(([path, perms, flags, owner]) => [path!, { perms, flags, owner }]));
    t.ok(rows.every((r) => r[3] === 'root:root'), `${variant}: everything root-owned`);
    t.match(byPath.get('/etc/postjoin/config.yaml'), { perms: '-rw-r--r--', flags: /c/ }, `${variant}: config is %config`);
    t.match(byPath.get('/etc/postjoin/config.yaml')?.flags, /n/, `${variant}: config is noreplace`);
    t.equal(byPath.get('/etc/postjoin')?.perms, 'drwxr-xr-x');
    t.equal(byPath.get('/etc/postjoin/tasks.d')?.perms, 'drwx------', `${variant}: tasks.d 0700 (task files may hold secrets)`);
    t.equal(byPath.get('/var/lib/postjoin')?.perms, 'drwx------', `${variant}: state dir 0700`);
    t.equal(byPath.get('/usr/bin/postjoin')?.perms, '-rwxr-xr-x');
    t.equal(byPath.get('/usr/lib/systemd/system/postjoin.service')?.perms, '-rw-r--r--');
  }
});

t.test('requires and conflicts (rpm -qp --requires)', async (t) => {
  if (!(await ready)) return;
  for (const variant of ['x86_64', 'aarch64'] as const) {
    const requires = (await rpmQuery(variant, ['--requires'])).split('\n');
    t.ok(requires.includes('libc.so.6()(64bit)'), `${variant}: glibc, found from the ELF`);
    t.ok(requires.includes('libstdc++.so.6()(64bit)'), `${variant}: libstdc++`);
    t.notOk(requires.some((r) => /node/.test(r)), `${variant}: no Node.js: it is embedded`);
    t.ok(requires.includes('systemd'), `${variant}: systemd for the scriptlets`);
    // glibc 2.28 at most: AL2023 has 2.34.
    const glibc = requires.flatMap((r) => [...r.matchAll(/GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 100 + Number(m[2])));
    t.ok(Math.max(...glibc) <= 234, `${variant}: needs glibc ${Math.floor(Math.max(...glibc) / 100)}.${Math.max(...glibc) % 100}, AL2023 has 2.34`);
    t.equal((await rpmQuery(variant, ['--conflicts'])).trim(), 'postjoin-node');
  }
  const requires = (await rpmQuery('noarch', ['--requires'])).split('\n');
  t.ok(requires.includes('(nodejs22 or nodejs20)'), 'noarch: a boolean dependency on AL2023 Node 22 or 20');
  t.notOk(requires.some((r) => r.includes('.so')), 'noarch: no native libraries');
  t.equal((await rpmQuery('noarch', ['--conflicts'])).trim(), 'postjoin');
});

t.test('scriptlets enable on install and disable on erase, never start (rpm -qp --scripts)', async (t) => {
  if (!(await ready)) return;
  const scripts = await rpmQuery('x86_64', ['--scripts']);
  t.match(scripts, /postinstall scriptlet \(using \/bin\/sh\)/);
  t.match(scripts, /preuninstall scriptlet \(using \/bin\/sh\)/);
  t.notMatch(scripts, /systemctl[^\n]*\b(start|restart|--now)\b/, 'no scriptlet starts the unit');
  for (const variant of ['aarch64', 'noarch'] as const) t.equal(await rpmQuery(variant, ['--scripts']), scripts, `${variant}: the same scriptlets`);

  // Run each scriptlet as rpm would ($1 = number of instances left), with a systemctl that only logs.
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-scriptlets-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const stub = join(dir, 'systemctl');
  const log = join(dir, 'calls');
  const runScriptlet = async (tag: 'POSTIN' | 'PREUN' | 'POSTUN', arg: number, systemctlExit = 0) => {
    await writeFile(stub, `#!/bin/sh\necho "$*" >> ${log}\nexit ${systemctlExit}\n`);
    await chmod(stub, 0o755);
    await writeFile(log, '');
    const body = await rpmQuery('x86_64', ['--qf', `%{${tag}}`]);
    const r = await run('/bin/sh', ['-c', body, 'scriptlet', String(arg)], { env: { PATH: `${dir}:/usr/bin:/bin` } });
    return { ...r, calls: (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean) };
  };
  const booted = (await run('/bin/sh', ['-c', 'test -d /run/systemd/system'])).status === 0;
  const reload = booted ? ['daemon-reload'] : [];

  const install = await runScriptlet('POSTIN', 1);
  t.equal(install.status, 0);
  t.same(install.calls, ['--no-reload enable postjoin.service', ...reload], 'first install: enable, no reload asked of a manager that is not running');
  const upgrade = await runScriptlet('POSTIN', 2);
  t.same(upgrade.calls, reload, 'upgrade: the admin\'s enable/disable choice is kept');
  const erase = await runScriptlet('PREUN', 0);
  t.same(erase.calls, ['--no-reload disable postjoin.service'], 'erase: disable');
  const upgradeErase = await runScriptlet('PREUN', 1);
  t.same(upgradeErase.calls, [], 'the old package going away in an upgrade: nothing');
  const failing = await runScriptlet('POSTIN', 1, 1);
  t.equal(failing.status, 0, 'a failing systemctl does not fail the transaction');
  t.match(failing.stderr, /run: systemctl enable postjoin.service/, '... but says what to do');
});

t.test('the payload: the very single executables, the unit and the documented config', async (t) => {
  if (!(await ready)) return;
  for (const [variant, archName, machine] of [['x86_64', 'x64', EM_X86_64], ['aarch64', 'arm64', EM_AARCH64]] as const) {
    const dir = await unpack(t, variant);
    const bin = join(dir, 'usr/bin/postjoin');
    t.equal(await sha256(bin), await sha256(SEA[archName]), `${variant}: /usr/bin/postjoin is dist/postjoin-linux-${archName}, byte for byte (rpmbuild stripped nothing)`);
    t.equal((await readElf(bin)).machine, machine);
    t.equal(await readFile(join(dir, 'etc/postjoin/config.yaml'), 'utf8'), await readFile(join(ROOT, 'packaging/config.yaml'), 'utf8'));
    t.equal(await readFile(join(dir, 'usr/lib/systemd/system/postjoin.service'), 'utf8'), await readFile(join(ROOT, 'systemd/postjoin.service'), 'utf8'));
    t.equal(await readFile(join(dir, 'usr/lib/systemd/system/postjoin-report.service'), 'utf8'), await readFile(join(ROOT, 'systemd/postjoin-report.service'), 'utf8'));
    if (variant === 'x86_64' && process.arch === 'x64') {
      const version = await run(bin, ['--version'], { env: { PATH: '/usr/bin:/bin' } });
      t.equal(version.stdout, `postjoin ${VERSION}\n`, 'the unpacked single executable runs');
    }
  }
});

t.test('the noarch launcher runs the bundle with AL2023\'s node-22, else node-20, else node', async (t) => {
  if (!(await ready)) return;
  const dir = await unpack(t, 'noarch');
  t.equal(await sha256(join(dir, 'usr/libexec/postjoin/postjoin.cjs')), await sha256(BUNDLE), 'the bundle, unchanged');
  const launcher = await readFile(join(dir, 'usr/bin/postjoin'), 'utf8');
  t.match(launcher, /^#!\/bin\/sh\n/);
  t.match(launcher, /^bundle=\/usr\/libexec\/postjoin\/postjoin\.cjs$/m);
  t.notMatch(launcher, /@LIBEXECDIR@/);

  // The same launcher, pointed at the unpacked tree and at a fake /usr/bin holding node-N binaries.
  const fakeBin = join(dir, 'fake-usr-bin');
  await mkdir(fakeBin);
  const relocated = join(dir, 'launcher.sh');
  await writeFile(relocated, launcher.replaceAll('/usr/libexec/', `${dir}/usr/libexec/`).replaceAll('/usr/bin/node-', `${fakeBin}/node-`));
  const noNodePath = { PATH: '/nonexistent' };

  await symlink(process.execPath, join(fakeBin, 'node-20'));
  const on20 = await run('/bin/sh', [relocated, '--version'], { env: noNodePath });
  t.equal(on20.stdout, `postjoin ${VERSION}\n`, 'node-20 alone is enough', { stderr: on20.stderr });

  await writeFile(join(fakeBin, 'node-22'), '#!/bin/sh\necho "node-22 $*"\n');
  await chmod(join(fakeBin, 'node-22'), 0o755);
  const on22 = await run('/bin/sh', [relocated, 'plan', '--output', 'json'], { env: noNodePath });
  t.equal(on22.stdout, `node-22 ${dir}/usr/libexec/postjoin/postjoin.cjs plan --output json\n`, 'node-22 is preferred, arguments passed through');

  await rm(join(fakeBin, 'node-22'));
  await rm(join(fakeBin, 'node-20'));
  const none = await run('/bin/sh', [relocated, '--version'], { env: noNodePath });
  t.equal(none.status, 2, 'no Node at all: exit 2, nothing started');
  t.match(none.stderr, /install nodejs22/);
});
