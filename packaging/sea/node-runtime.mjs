// The Node.js runtime that a single executable embeds: fetched from the npm registry at the version pinned
// in node-runtime.json, checked against the pinned integrity, stripped, and cached under .cache/ so that a
// rebuild neither downloads nor strips again.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { archNamed, elfMachine, runnerFor, which } from '../lib/arches.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '../..');
export const PIN = JSON.parse(readFileSync(join(here, 'node-runtime.json'), 'utf8'));
const CACHE = join(ROOT, '.cache/node-runtime', PIN.version);

function sri(path) {
  return `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}`;
}

/** The registry tarball, downloaded once; any tarball that does not match the pinned integrity is refused. */
function tarball(archName) {
  const { package: pkg, integrity } = PIN.arches[archName];
  const file = join(CACHE, `${pkg}-${PIN.version}.tgz`);
  if (existsSync(file) && sri(file) === integrity) return file;
  rmSync(file, { force: true });
  mkdirSync(CACHE, { recursive: true });
  process.stderr.write(`fetching ${pkg}@${PIN.version} from the npm registry\n`);
  // npm pack, not npm install: the runtime is a build input of this one script, not a dependency of the project.
  execFileSync('npm', ['pack', `${pkg}@${PIN.version}`, '--pack-destination', CACHE, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const got = sri(file);
  if (got !== integrity) {
    rmSync(file, { force: true });
    throw new Error(`${pkg}@${PIN.version}: integrity ${got} does not match the pinned ${integrity} (packaging/sea/node-runtime.json)`);
  }
  return file;
}

function stripInto(archName, from, to) {
  const arch = archNamed(archName);
  const tried = [];
  for (const tool of arch.strip) {
    const path = which(tool);
    if (!path) continue;
    try {
      execFileSync(path, ['-o', to, from], { stdio: ['ignore', 'ignore', 'pipe'] });
      return tool;
    } catch (err) {
      tried.push(`${tool}: ${String(err.stderr ?? err.message).trim().split('\n')[0]}`);
    }
  }
  throw new Error(
    `no strip here handles ${arch.rpm} (tried ${arch.strip.join(', ')}${tried.length ? `; ${tried.join('; ')}` : ''}). ` +
      `Install binutils-${arch.rpm.replace('_', '-')}-linux-gnu.`,
  );
}

/**
 * Path of the stripped Node binary for an arch. Stripping happens here, before injection: stripping a
 * single executable after postject has written its blob makes it crash at start.
 */
export function strippedNode(archName) {
  const arch = archNamed(archName);
  const { integrity } = PIN.arches[archName];
  const dir = join(CACHE, archName);
  const node = join(dir, 'node');
  const stamp = join(dir, 'node.stamp');
  if (existsSync(node) && existsSync(stamp) && readFileSync(stamp, 'utf8') === integrity) return node;

  const tgz = tarball(archName);
  const work = join(dir, `.work-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    execFileSync('tar', ['-xzf', tgz, '-C', work, 'package/bin/node']);
    const stripped = join(work, 'node');
    const tool = stripInto(archName, join(work, 'package/bin/node'), stripped);
    if (elfMachine(stripped) !== arch.elfMachine) throw new Error(`${tool} produced something that is not an ${arch.rpm} ELF`);
    const runner = runnerFor(archName);
    if (runner.prefix) {
      const [cmd, ...args] = [...runner.prefix, stripped, '--version'];
      const version = execFileSync(cmd, args, { encoding: 'utf8' }).trim();
      if (version !== `v${PIN.version}`) throw new Error(`stripped node reports ${version}, expected v${PIN.version}`);
    }
    renameSync(stripped, node);
    writeFileSync(stamp, integrity);
    process.stderr.write(`node ${PIN.version} ${archName}: stripped with ${tool}\n`);
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
