// packaging/install.sh, for builders without RPM: installs into a staging root (--root) and the tree is
// checked file by file; a second run changes nothing; an edited config survives.
import { createHash } from 'node:crypto';
import { appendFile, chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { requireReal, which } from '../harness/require-real.js';
import { BUNDLE } from '../helpers/cli.js';
import { ROOT, SEA, VERSION, buildArtifacts, envWithoutNode, run } from '../helpers/packaging.js';

const INSTALL = join(ROOT, 'packaging/install.sh');
const WANTS = 'etc/systemd/system/multi-user.target.wants/postjoin.service';

interface Entry {
  type: 'dir' | 'file' | 'link';
  mode: string;
  target?: string;
  sha256?: string;
  mtimeMs?: number;
}

/** Every path under root with its type, mode, content hash and mtime: equal snapshots mean nothing was touched. */
async function snapshot(root: string, rel = ''): Promise<Record<string, Entry>> {
  const out: Record<string, Entry> = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, path));
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    if (st.isSymbolicLink()) out[path] = { type: 'link', mode, target: await readlink(join(root, path)) };
    else if (st.isDirectory()) {
      out[path] = { type: 'dir', mode };
      Object.assign(out, await snapshot(root, path));
    } else {
      const sha256 = createHash('sha256').update(await readFile(join(root, path))).digest('hex');
      out[path] = { type: 'file', mode, sha256, mtimeMs: st.mtimeMs };
    }
  }
  return out;
}

/** The shape of a tree, without hashes and times. */
const shape = (snap: Record<string, Entry>) =>
  Object.fromEntries(Object.entries(snap).map(([p, e]) => [p, e.type === 'link' ? `link -> ${e.target}` : `${e.type} ${e.mode}`]));

async function install(args: string[], env: NodeJS.ProcessEnv = envWithoutNode()) {
  return run('/bin/bash', [INSTALL, ...args], { env });
}

async function stagingRoot(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'postjoin-install-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const hostSea = process.arch === 'arm64' ? SEA.arm64 : SEA.x64;

t.test('the script parses, and refuses bad arguments', async (t) => {
  t.equal((await run('/bin/bash', ['-n', INSTALL])).status, 0, 'bash -n');
  const help = await install(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /--binary PATH/);
  t.match(help.stdout, /--root DIR/);
  const unknown = await install(['--frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /unknown argument: --frobnicate/);
  const relative = await install(['--prefix', 'usr/local', '--binary', BUNDLE, '--root', '/nonexistent-never-used']);
  t.equal(relative.status, 2);
  t.match(relative.stderr, /--prefix must be absolute/);
  const notBinary = await install(['--binary', join(ROOT, 'package.json'), '--root', await stagingRoot(t)]);
  t.equal(notBinary.status, 2);
  t.match(notBinary.stderr, /neither a single executable/);
});

t.test('single executable into a staging root: the tree, the modes, the enablement', async (t) => {
  const strip = async () => (await which(`${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu-strip`)) !== undefined || (await which('strip')) !== undefined;
  if (!(await requireReal(t, 'a strip for this arch', strip, 'apt-get install -y --no-install-recommends binutils'))) return;
  const built = await buildArtifacts('sea/build-sea.mjs', ['--arch', process.arch === 'arm64' ? 'arm64' : 'x64']);
  t.equal(built.status, 0, 'build-sea.mjs', { stderr: built.stderr });
  if (built.status !== 0) return;
  const root = await stagingRoot(t);

  const first = await install(['--root', root, '--binary', hostSea]);
  t.equal(first.status, 0, 'installs', { stderr: first.stderr });
  t.match(first.stdout, /postjoin: installed in .* \(sea\)/);
  const snap = await snapshot(root);
  t.same(shape(snap), {
    etc: 'dir 0755',
    'etc/postjoin': 'dir 0755',
    'etc/postjoin/config.yaml': 'file 0644',
    'etc/postjoin/tasks.d': 'dir 0700',
    'etc/systemd': 'dir 0755',
    'etc/systemd/system': 'dir 0755',
    'etc/systemd/system/multi-user.target.wants': 'dir 0755',
    [WANTS]: 'link -> /usr/lib/systemd/system/postjoin.service',
    usr: 'dir 0755',
    'usr/bin': 'dir 0755',
    'usr/bin/postjoin': 'file 0755',
    'usr/lib': 'dir 0755',
    'usr/lib/systemd': 'dir 0755',
    'usr/lib/systemd/system': 'dir 0755',
    'usr/lib/systemd/system/postjoin.service': 'file 0644',
    'usr/lib/systemd/system/postjoin-report.service': 'file 0644',
    var: 'dir 0755',
    'var/lib': 'dir 0755',
    'var/lib/postjoin': 'dir 0700',
  });
  const hash = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
  t.equal(snap['usr/bin/postjoin']?.sha256, await hash(hostSea), 'the binary, unchanged');
  t.equal(await readFile(join(root, 'etc/postjoin/config.yaml'), 'utf8'), await readFile(join(ROOT, 'packaging/config.yaml'), 'utf8'));
  t.equal(await readFile(join(root, 'usr/lib/systemd/system/postjoin.service'), 'utf8'), await readFile(join(ROOT, 'systemd/postjoin.service'), 'utf8'), 'the unit as shipped (prefix /usr)');
  t.equal(await readFile(join(root, 'usr/lib/systemd/system/postjoin-report.service'), 'utf8'), await readFile(join(ROOT, 'systemd/postjoin-report.service'), 'utf8'), 'the report unit as shipped, not enabled: postjoin.service pulls it in');
  const version = await run(join(root, 'usr/bin/postjoin'), ['--version'], { env: { PATH: '/usr/bin:/bin' } });
  t.equal(version.stdout, `postjoin ${VERSION}\n`);

  const again = await install(['--root', root, '--binary', hostSea]);
  t.equal(again.status, 0);
  t.match(again.stdout, /already installed in .*; nothing changed/);
  t.same(await snapshot(root), snap, 'idempotent: same files, modes, contents and mtimes');

  await appendFile(join(root, 'etc/postjoin/config.yaml'), 'runTimeout: 40m\n');
  const edited = (await snapshot(root))['etc/postjoin/config.yaml'];
  await chmod(join(root, 'var/lib/postjoin'), 0o755);
  await chmod(join(root, 'etc/postjoin/tasks.d'), 0o755);
  await writeFile(join(root, 'usr/bin/postjoin'), 'damaged');
  const repair = await install(['--root', root, '--binary', hostSea]);
  t.equal(repair.status, 0);
  t.match(repair.stdout, /kept \/etc\/postjoin\/config.yaml \(edited; not overwritten\)/);
  const repaired = await snapshot(root);
  t.same(repaired['etc/postjoin/config.yaml'], edited, 'an edited config is never overwritten');
  t.equal(repaired['var/lib/postjoin']?.mode, '0700', 'a loosened state dir is tightened again');
  t.equal(repaired['etc/postjoin/tasks.d']?.mode, '0700');
  t.equal(repaired['usr/bin/postjoin']?.sha256, await hash(hostSea), 'a changed binary is replaced');
});

t.test('bundle with --prefix /usr/local: launcher, libexec, ExecStart and the enable link follow the prefix', async (t) => {
  const root = await stagingRoot(t);
  const r = await install(['--root', root, '--prefix', '/usr/local', '--binary', BUNDLE]);
  t.equal(r.status, 0, 'installs', { stderr: r.stderr });
  t.match(r.stdout, /\(bundle\)/);
  const snap = shape(await snapshot(root));
  t.match(snap, {
    'usr/local/bin/postjoin': 'file 0755',
    'usr/local/libexec/postjoin': 'dir 0755',
    'usr/local/libexec/postjoin/postjoin.cjs': 'file 0644',
    'usr/local/lib/systemd/system/postjoin.service': 'file 0644',
    [WANTS]: 'link -> /usr/local/lib/systemd/system/postjoin.service',
    'etc/postjoin/tasks.d': 'dir 0700',
    'var/lib/postjoin': 'dir 0700',
  });
  t.notOk('usr/bin/postjoin' in snap, 'nothing under /usr/bin');
  const unit = await readFile(join(root, 'usr/local/lib/systemd/system/postjoin.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/local\/bin\/postjoin run$/m);
  const reportUnit = await readFile(join(root, 'usr/local/lib/systemd/system/postjoin-report.service'), 'utf8');
  t.match(reportUnit, /^ExecStart=\/usr\/local\/bin\/postjoin report --retry-for 1h$/m);
  const launcher = await readFile(join(root, 'usr/local/bin/postjoin'), 'utf8');
  t.match(launcher, /^bundle=\/usr\/local\/libexec\/postjoin\/postjoin\.cjs$/m);
  t.equal(await readFile(join(root, 'usr/local/libexec/postjoin/postjoin.cjs'), 'utf8'), await readFile(BUNDLE, 'utf8'));
  const again = await install(['--root', root, '--prefix', '/usr/local', '--binary', BUNDLE]);
  t.match(again.stdout, /nothing changed/);
});

t.test('without systemctl on the builder, the enable link is written by hand, the same way', async (t) => {
  // A PATH holding only the tools the script needs, so `command -v systemctl` fails.
  const tools = ['bash', 'sh', 'dirname', 'mkdir', 'stat', 'cmp', 'install', 'mv', 'sed', 'head', 'od', 'tr', 'mktemp', 'rm', 'readlink', 'ln', 'chmod', 'uname'];
  const bin = await stagingRoot(t);
  for (const tool of tools) {
    const path = await which(tool);
    if (!path) return t.fail(`${tool} not found`);
    await symlink(path, join(bin, tool));
  }
  const root = join(await stagingRoot(t), 'image');
  await mkdir(root);
  const r = await install(['--root', root, '--binary', BUNDLE], { PATH: bin });
  t.equal(r.status, 0, 'installs', { stderr: r.stderr });
  t.match(r.stdout, /enabled postjoin.service \(symlink \/etc\/systemd\/system\/multi-user.target.wants\/postjoin.service\)/);
  t.equal(await readlink(join(root, WANTS)), '/usr/lib/systemd/system/postjoin.service');
  const again = await install(['--root', root, '--binary', BUNDLE], { PATH: bin });
  t.match(again.stdout, /nothing changed/);
});
