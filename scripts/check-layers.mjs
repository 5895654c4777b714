#!/usr/bin/env node
// The structure rules of src/ (docs/architecture.md), checked on every `npm test`:
//   1. no import cycle between the top-level folders of src/ (type-only imports count: they are dependencies too);
//   2. the machine is reached only from src/host/: nothing else imports child processes, sockets, HTTP, D-Bus,
//      gRPC or the AWS and Kubernetes clients;
//   3. no file in src/ is over 300 lines.
// `node scripts/check-layers.mjs --map` also prints which folder imports which.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const MAX_LINES = 300;
const MACHINERY = [
  /^(node:)?(child_process|http|https|http2|net|dgram|tls)$/,
  /^dbus-next($|\/)/,
  /^execa($|\/)/,
  /^@grpc\//,
  /^@aws-sdk\//,
  /^@smithy\//,
  /^@kubernetes\//,
];
const MACHINERY_HOME = 'host';

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

const SPECIFIER = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(text) {
  // Comments may quote code; they must not count as imports.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return [...code.matchAll(SPECIFIER)].map((m) => m[1] ?? m[2] ?? m[3]);
}

const problems = [];
const edges = new Map(); // unit -> Map(unit -> [example "file -> spec"])
const files = walk(SRC);
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(ROOT, file);
  const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  if (lines > MAX_LINES) problems.push(`${rel}: ${lines} lines; a file in src/ has at most ${MAX_LINES} (usually it holds two concerns)`);
  const from = unitOf(file);
  for (const spec of importsOf(text)) {
    if (spec.startsWith('.')) {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (!target.startsWith(SRC)) continue;
      const to = unitOf(target);
      if (to === from) continue;
      if (!edges.has(from)) edges.set(from, new Map());
      const out = edges.get(from);
      if (!out.has(to)) out.set(to, []);
      out.get(to).push(`${rel} imports ${spec}`);
    } else if (MACHINERY.some((re) => re.test(spec)) && from !== MACHINERY_HOME) {
      problems.push(`${rel}: imports ${spec}; only src/${MACHINERY_HOME}/ reaches the machine (add it to Host and pass Host down)`);
    }
  }
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
console.log(`check-layers: ${files.length} files in ${units.length} folders: no cycle, machinery only in src/${MACHINERY_HOME}/, every file at most ${MAX_LINES} lines`);
