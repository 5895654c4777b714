#!/usr/bin/env node
// The structure rules of src/ (docs/architecture.md), checked on every `npm test`:
//   1. the folders of src/ are layers in a declared order (LAYERS): a file imports only from its own folder and
//      from the folders its layer lists, all of them below it (type-only imports count: they are dependencies too);
//   2. no import cycle between the top-level folders of src/;
//   3. the machine is reached only from src/host/: nothing else imports execa (processes), sockets, HTTP, D-Bus,
//      gRPC or the AWS and Kubernetes clients;
//   4. no file in src/ is over 300 lines;
//   5. nothing in src/, src/host/ included, loads node:child_process: every process postjoin starts goes through
//      execa (src/host/process/), so its options and error shape are the same everywhere (issue 18).
// `--map` also prints which folder imports which; `--root DIR` checks DIR/src instead of this repository's.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const rootArg = process.argv.indexOf('--root');
const ROOT = rootArg > 0 ? resolve(process.argv[rootArg + 1]) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const MAX_LINES = 300;
const MACHINERY = [
  /^(node:)?(http|https|http2|net|dgram|tls)$/,
  /^dbus-next($|\/)/,
  /^execa($|\/)/,
  /^@grpc\//,
  /^@aws-sdk\//,
  /^@smithy\//,
  /^@kubernetes\//,
];
const MACHINERY_HOME = 'host';
const CHILD_PROCESS = /^(node:)?child_process$/;
/** The files directly in src/ (cli.ts, main.ts): the top of the stack. */
const TOP = '(top)';

/**
 * The layers, bottom to top, each with the layers below it that it may import. A layer not listed is not below
 * it for this purpose: plan/ and config/ import no machinery, readiness/ no kinds, writers/ no host.
 */
const LAYERS = [
  ['base', []],
  ['host', ['base']],
  ['kinds', ['base', 'host']],
  ['plan', ['base', 'kinds']],
  ['sources', ['base', 'host', 'kinds', 'plan']],
  ['config', ['base', 'kinds', 'plan', 'sources']],
  ['readiness', ['base', 'host', 'config']],
  ['state', ['base', 'host', 'plan']],
  ['runner', ['base', 'host', 'kinds', 'plan', 'config', 'state']],
  ['report', ['base', 'host', 'kinds', 'plan', 'config', 'state', 'runner']],
  ['writers', ['base', 'kinds', 'plan', 'sources']],
  ['verbs', ['base', 'host', 'kinds', 'plan', 'sources', 'config', 'readiness', 'state', 'runner', 'report', 'writers']],
  [TOP, ['base', 'config', 'verbs']],
];
const RANK = new Map(LAYERS.map(([name], i) => [name, i]));
const MAY = new Map(LAYERS);

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** A file's unit in the folder graph: its top-level folder under src/, or the file itself at the top. */
function unitOf(file) {
  const rel = relative(SRC, file).split('/');
  return rel.length > 1 ? rel[0] : rel[0].replace(/\.ts$/, '');
}

/** A file's layer: its top-level folder, or TOP for the files directly in src/. */
function layerOf(file) {
  const rel = relative(SRC, file).split('/');
  return rel.length > 1 ? rel[0] : TOP;
}

// Static imports and re-exports, bare imports, import(), require() and process.getBuiltinModule().
const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*['"]([^'"]+)['"]|(?:\bimport|\brequire|\bgetBuiltinModule)\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(text) {
  // Comments may quote code; they must not count as imports.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return [...code.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const problems = [];
const edges = new Map(); // unit -> Map(unit -> [example "file imports spec"])
const files = walk(SRC);
const undeclared = new Set();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(ROOT, file);
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${rel}: ${lines} lines; a file in src/ has at most ${MAX_LINES} (usually it holds two concerns)`);
  const from = unitOf(file);
  const layer = layerOf(file);
  if (!RANK.has(layer)) undeclared.add(layer);
  for (const spec of importsOf(text)) {
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!target.startsWith(SRC)) continue;
      const to = unitOf(target);
      const toLayer = layerOf(target);
      if (to !== from) {
        if (!edges.has(from)) edges.set(from, new Map());
        const out = edges.get(from);
        if (!out.has(to)) out.set(to, []);
        out.get(to).push(`${rel} imports ${spec}`);
      }
      if (toLayer === layer || !RANK.has(layer) || !RANK.has(toLayer)) continue;
      const where = (l) => (l === TOP ? 'the top of src/' : `src/${l}/`);
      if (RANK.get(toLayer) > RANK.get(layer)) {
        problems.push(`${rel}: imports ${spec}, from ${where(toLayer)}, a higher layer than ${where(layer)}; a layer imports only from the layers below it`);
      } else if (!MAY.get(layer).includes(toLayer)) {
        problems.push(`${rel}: imports ${spec}, from ${where(toLayer)}; ${where(layer)} may import only from ${MAY.get(layer).map(where).join(', ')}`);
      }
    } else if (CHILD_PROCESS.test(spec)) {
      problems.push(`${rel}: imports ${spec}; postjoin starts every process through execa (src/host/process/), never node:child_process`);
    } else if (MACHINERY.some((re) => re.test(spec)) && layer !== MACHINERY_HOME) {
      problems.push(`${rel}: imports ${spec}; only src/${MACHINERY_HOME}/ reaches the machine (add it to Host and pass Host down)`);
    }
  }
}
for (const u of [...undeclared].sort()) {
  problems.push(`src/${u}/ is not a declared layer; add it to LAYERS in scripts/check-layers.mjs, in its place in the order`);
}

// Tarjan's strongly connected components: any component of more than one unit is a cycle.
const units = [...new Set([...files.map(unitOf)])].sort();
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function strong(v) {
  idx.set(v, index);
  low.set(v, index++);
  stack.push(v);
  onStack.add(v);
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!idx.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
  }
  if (low.get(v) === idx.get(v)) {
    const c = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    components.push(c);
  }
}
for (const u of units) if (!idx.has(u)) strong(u);
for (const c of components.filter((c) => c.length > 1)) {
  const inside = new Set(c);
  const detail = c
    .sort()
    .flatMap((u) => [...(edges.get(u) ?? [])].filter(([to]) => inside.has(to)).map(([to, why]) => `    ${u} -> ${to}: ${why[0]}${why.length > 1 ? ` (+${why.length - 1} more)` : ''}`));
  problems.push(`import cycle between src/ folders ${c.sort().join(', ')}:\n${detail.join('\n')}`);
}

if (process.argv.includes('--map')) {
  for (const u of units) {
    const out = [...(edges.get(u)?.keys() ?? [])].sort();
    console.log(`${u.padEnd(10)} -> ${out.length ? out.join(', ') : '(nothing)'}`);
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`check-layers: ${p}`);
  console.error(`check-layers: ${problems.length} problem(s); see docs/architecture.md`);
  process.exit(1);
}
console.log(
  `check-layers: ${files.length} files in ${units.length} folders: layers in their declared order, no cycle, machinery only in src/${MACHINERY_HOME}/, no node:child_process, every file at most ${MAX_LINES} lines`,
);
