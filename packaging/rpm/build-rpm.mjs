#!/usr/bin/env node
// Builds the AL2023 RPMs into dist/rpm/ with rpmbuild (npm run build:rpm):
//   postjoin-VERSION-1.x86_64.rpm, postjoin-VERSION-1.aarch64.rpm   the single executables
//   postjoin-node-VERSION-1.noarch.rpm                              the bundle, Requires (nodejs22 or nodejs20)
// It first brings the single executables up to date (build-sea.mjs), and skips a package whose inputs have
// not changed since dist/rpm/manifest.json was written.
//
//   node packaging/rpm/build-rpm.mjs [--force]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ARCHES, which } from '../lib/arches.mjs';
import { withBuildLock } from '../lib/build-lock.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = join(ROOT, 'dist/rpm');
const MANIFEST = join(OUT, 'manifest.json');
const SPEC = join(ROOT, 'packaging/rpm/postjoin.spec');
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NODE_')));
const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/** The installed README (the unit's Documentation= names it): the project's, else the packaging guide. */
const README = [join(ROOT, 'README.md'), join(ROOT, 'docs/packaging.md')].find((p) => existsSync(p));
const README_FALLBACK = `postjoin ${VERSION}: runs an ordered, validated task list on an EKS node after it has joined the cluster.\nSee postjoin --help.\n`;

const packages = [
  ...Object.entries(ARCHES).map(([archName, arch]) => ({
    flavor: 'sea',
    rpmArch: arch.rpm,
    file: `postjoin-${VERSION}-1.${arch.rpm}.rpm`,
    binary: join(ROOT, `dist/postjoin-linux-${archName}`),
  })),
  { flavor: 'node', rpmArch: 'noarch', file: `postjoin-node-${VERSION}-1.noarch.rpm`, binary: undefined },
];

/** The files rpmbuild reads as Source0..6, by their names in the spec. */
function sources(pkg) {
  return {
    postjoin: pkg.binary ?? join(ROOT, 'packaging/bundle-launcher.sh'),
    'postjoin.service': join(ROOT, 'systemd/postjoin.service'),
    'config.yaml': join(ROOT, 'packaging/config.yaml'),
    'README.md': README,
    'postjoin-tasks.schema.json': join(ROOT, 'dist/postjoin-tasks.schema.json'),
    'postjoin.cjs': join(ROOT, 'dist/postjoin.cjs'),
    'postjoin-report.service': join(ROOT, 'systemd/postjoin-report.service'),
  };
}

function inputsHash(pkg) {
  const files = [SPEC, fileURLToPath(import.meta.url), ...Object.values(sources(pkg))];
  const contents = files.map((f) => (f ? readFileSync(f) : Buffer.from(README_FALLBACK)));
  return sha256(Buffer.concat([Buffer.from(`${VERSION}\0${pkg.flavor}\0${pkg.rpmArch}\0`), ...contents]));
}

function stage(pkg, sourceDir) {
  mkdirSync(sourceDir, { recursive: true });
  for (const [name, from] of Object.entries(sources(pkg))) {
    if (!from) {
      writeFileSync(join(sourceDir, name), README_FALLBACK);
    } else if (name === 'postjoin' && !pkg.binary) {
      writeFileSync(join(sourceDir, name), readFileSync(from, 'utf8').replaceAll('@LIBEXECDIR@', '/usr/libexec'));
    } else {
      // A link, not a copy: the single executables are ~100 MiB each.
      symlinkSync(from, join(sourceDir, name));
    }
  }
}

function build(pkg, force, manifest) {
  const out = join(OUT, pkg.file);
  const inputs = inputsHash(pkg);
  const had = manifest.packages[pkg.file];
  if (!force && had?.inputs === inputs && existsSync(out) && statSync(out).size === had.bytes) {
    process.stderr.write(`${out}: up to date\n`);
    return;
  }
  const top = join(ROOT, '.cache/rpmbuild', `${pkg.flavor}-${pkg.rpmArch}-${process.pid}`);
  rmSync(top, { recursive: true, force: true });
  try {
    stage(pkg, join(top, 'SOURCES'));
    const args = [
      '-bb',
      '--quiet',
      '--define', `_topdir ${top}`,
      '--define', `_rpmdir ${top}/RPMS`,
      '--define', '_build_name_fmt %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm',
      '--define', `flavor ${pkg.flavor}`,
      '--define', `pj_version ${VERSION}`,
      ...(pkg.flavor === 'sea' ? ['--target', pkg.rpmArch] : []),
      SPEC,
    ];
    execFileSync('rpmbuild', args, { env: cleanEnv, stdio: ['ignore', 'inherit', 'inherit'] });
    renameSync(join(top, 'RPMS', pkg.file), out);
    const bytes = statSync(out).size;
    manifest.packages[pkg.file] = { arch: pkg.rpmArch, flavor: pkg.flavor, bytes, sha256: sha256(readFileSync(out)), inputs };
    process.stderr.write(`${out}: ${(bytes / 1048576).toFixed(1)} MiB\n`);
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
}

const { values } = parseArgs({ options: { force: { type: 'boolean' } } });
if (!which('rpmbuild')) {
  process.stderr.write('rpmbuild is missing; on Debian: apt-get install -y --no-install-recommends rpm\n');
  process.exit(2);
}
if (!existsSync(join(ROOT, 'dist/postjoin.cjs'))) {
  process.stderr.write('dist/postjoin.cjs is missing; run npm run build first (npm run build:rpm does both)\n');
  process.exit(2);
}
// The single executables first; a no-op when they are up to date.
execFileSync(process.execPath, [join(ROOT, 'packaging/sea/build-sea.mjs')], { env: cleanEnv, stdio: ['ignore', 'inherit', 'inherit'] });
mkdirSync(OUT, { recursive: true });
mkdirSync(join(ROOT, '.cache/locks'), { recursive: true });
await withBuildLock(join(ROOT, '.cache/locks/rpm'), async () => {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    manifest = { packages: {} };
  }
  for (const pkg of packages) {
    build(pkg, values.force ?? false, manifest);
    writeFileSync(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`);
  }
});
